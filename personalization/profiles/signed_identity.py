"""Signed identity: how a browser proves which known customer it is.

The website's key is public, so a ``profile_id`` sent from a browser proves nothing. The shop's
own backend, which knows who is logged in, signs the customer's profile id with the site's
identity secret and puts the token in the page; the browser sends it as ``X-Kairos-Identity``
and Kairos verifies it here. The token (URL-safe, stdlib to make)::

    v1.<base64url(profile id)>.<expiry, unix seconds>.<base64url(HMAC-SHA256(secret, message))>
    message = "kairos-identity|v1|<profile id>|<expiry>"

Base64url is without padding. Rotation: sign with the new secret, keep the old one among the
previous secrets (they are still verified, in constant time each) until its tokens expired.

>>> secret = b"a-secret-of-at-least-16-bytes"
>>> verifier = IdentityVerifier([secret])
>>> token = sign_identity(secret, "ada@example.org", expires=2_000_000_000)
>>> verifier.verify(token, now=1_999_990_000)
'ada@example.org'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from typing import Final, Literal

from personalization.profiles.ids import PROFILE_ID_RULE, is_profile_id

VERSION: Final = "v1"
MAX_TOKEN_CHARS: Final = 512
_DOMAIN: Final = "kairos-identity|v1|"

Failure = Literal["malformed", "forged", "expired", "too_long_lived"]


class IdentityRefused(Exception):
    """An identity token that proves nothing; ``kind`` says why, the message what to do."""

    def __init__(self, kind: Failure, message: str) -> None:
        super().__init__(message)
        self.kind: Failure = kind


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, profile_id: str, expiry: str) -> bytes:
    message = f"{_DOMAIN}{profile_id}|{expiry}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def sign_identity(secret: bytes, profile_id: str, *, expires: int) -> str:
    """The token naming ``profile_id`` until ``expires`` (unix seconds): what the shop signs."""
    if not is_profile_id(profile_id):
        raise ValueError(f"a profile id is {PROFILE_ID_RULE}")
    expiry = str(int(expires))
    mac = _mac(secret, profile_id, expiry)
    return f"{VERSION}.{_b64(profile_id.encode())}.{expiry}.{_b64(mac)}"


class IdentityVerifier:
    """Verifies identity tokens against the current secret and any previous ones.

    ``max_lifetime`` (seconds) bounds how far ahead a token's expiry may lie: a token valid for
    a year would be a password that cannot be changed.
    """

    def __init__(
        self,
        secrets: Sequence[bytes],
        *,
        max_lifetime: float = 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert secrets, "at least one identity secret"
        assert all(len(s) >= 16 for s in secrets), "identity secrets have at least 16 bytes"
        self.secrets = list(secrets)
        self.max_lifetime = max_lifetime
        self.clock = clock

    def sign(self, profile_id: str, *, ttl: float, now: float | None = None) -> str:
        """A token for ``profile_id`` valid ``ttl`` seconds, with the current secret."""
        if not 0 < ttl <= self.max_lifetime:
            raise ValueError(f"ttl must be positive and at most {int(self.max_lifetime)} s")
        return sign_identity(self.secrets[0], profile_id,
                             expires=int((self.clock() if now is None else now) + ttl))

    def verify(self, token: str, *, now: float | None = None) -> str:
        """The profile id ``token`` proves; raises :class:`IdentityRefused` otherwise."""
        if len(token) > MAX_TOKEN_CHARS:
            raise IdentityRefused("malformed", "the identity token is too long")
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != VERSION:
            raise IdentityRefused(
                "malformed", "the identity token is not 'v1.<id>.<expiry>.<signature>'")
        _, encoded_id, expiry, mac_text = parts
        try:
            profile_id = _unb64(encoded_id).decode("utf-8")
            mac = _unb64(mac_text)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise IdentityRefused("malformed", "the identity token is not base64url") from None
        if not expiry.isdigit() or len(expiry) > 12 or not is_profile_id(profile_id):
            raise IdentityRefused(
                "malformed", f"the identity token needs a profile id ({PROFILE_ID_RULE}) and "
                "an expiry in unix seconds")
        # Every secret is compared (constant time each): no timing tells which one matched.
        matched = False
        for secret in self.secrets:
            matched |= hmac.compare_digest(mac, _mac(secret, profile_id, expiry))
        if not matched:
            raise IdentityRefused(
                "forged", "the identity token's signature does not match this site's identity "
                "secret: sign it on your server with KAIROS_IDENTITY_SECRET")
        current = self.clock() if now is None else now
        if int(expiry) <= current:
            raise IdentityRefused(
                "expired", "the identity token has expired: sign a fresh one with each page")
        if int(expiry) > current + self.max_lifetime:
            raise IdentityRefused(
                "too_long_lived", "the identity token expires too far ahead: at most "
                f"{int(self.max_lifetime)} s from now (KAIROS_IDENTITY_MAX_LIFETIME_HOURS)")
        return profile_id
