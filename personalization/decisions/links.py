"""Identifiable links: signed, expiring tokens that let a newsletter click name its profile.

The mail system asks Kairos for a token per recipient (``GET /v1/links/token``) and appends it to
every link of the mail as ``?kt=<token>``. When the visit asks for a decision, the decision layer
calls :meth:`LinkSigner.recognise` on the context: a valid token names the profile (the decision
is then explicitly personalised, still subject to consent), marks the visit as coming from email
(``utm_medium=email`` unless the link says otherwise), and is removed from the URL so it is never
logged or kept with the situation. A tampered, expired, unknown-key or garbage token is ignored:
the visit stays anonymous and nothing raises.

Token format (URL-safe, no padding, ~50 characters for a short id)::

    <key id>.<base64url(profile id)>.<expiry, epoch seconds in base 36>.<base64url(mac)>

``mac`` is the first 16 bytes of HMAC-SHA256 over ``"kairos-link-v1|<key id>|<id>|<expiry>"``
with the secret of ``key id``. Rotation: sign with the current key, keep old keys for
verification until their tokens have expired, then drop them.

>>> signer = LinkSigner({"k1": b"a-secret-of-at-least-16-bytes"}, current="k1")
>>> token = signer.issue("p-42", ttl=timedelta(days=30), now=datetime(2026, 1, 1, tzinfo=UTC))
>>> signer.verify(token, now=datetime(2026, 1, 2, tzinfo=UTC))
'p-42'
>>> signer.verify(token + "x", now=datetime(2026, 1, 2, tzinfo=UTC)) is None
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from personalization.clock import Clock, system_clock
from personalization.errors import InvalidLinkRequest
from personalization.profiles.ids import ID_MESSAGE, is_profile_id

if TYPE_CHECKING:
    from personalization.decisions.models import DecisionRequest

TOKEN_PARAM: Final = "kt"
"""The query parameter that carries the token in a link."""

MAX_TOKEN_CHARS: Final = 512
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_MAC_BYTES: Final = 16
_DOMAIN: Final = b"kairos-link-v1"


@dataclass(frozen=True, slots=True)
class LinkVisit:
    """What :meth:`LinkSigner.recognise` found in a visit's URL.

    ``profile_id`` is the verified profile, or ``None``; ``url`` is the page URL without the token
    (with ``utm_medium=email`` added for a valid token that had no medium); ``reason`` explains it.
    """

    profile_id: str | None
    url: str | None
    reason: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


class LinkSigner:
    """Issues and verifies link tokens with HMAC-SHA256.

    ``keys`` maps key ids to secrets (at least 16 bytes each); ``current`` is the id new tokens
    are signed with. ``max_ttl`` bounds what :meth:`issue` accepts.
    """

    def __init__(
        self,
        keys: Mapping[str, bytes],
        *,
        current: str,
        max_ttl: timedelta = timedelta(days=365),
        clock: Clock = system_clock,
    ) -> None:
        assert current in keys, "the current key id must be one of the keys"
        for key_id, secret in keys.items():
            assert _KEY_ID.match(key_id), f"key ids are 1-16 of [A-Za-z0-9_-]: {key_id!r}"
            assert len(secret) >= 16, f"the secret of key {key_id!r} is shorter than 16 bytes"
        self.keys = dict(keys)
        self.current = current
        self.max_ttl = max_ttl
        self.clock = clock

    def _mac(self, key_id: str, encoded_id: str, expiry: str) -> bytes:
        message = b"|".join((_DOMAIN, key_id.encode(), encoded_id.encode(), expiry.encode()))
        return hmac.new(self.keys[key_id], message, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, profile_id: str, *, ttl: timedelta, now: datetime | None = None) -> str:
        """A token naming ``profile_id`` that expires ``ttl`` after ``now``.

        Raises :class:`InvalidLinkRequest` for an id that is not a profile id or a ``ttl`` that is
        not positive or exceeds ``max_ttl``.
        """
        if not is_profile_id(profile_id):
            raise InvalidLinkRequest(f"profile_id: {ID_MESSAGE}")
        if ttl <= timedelta(0) or ttl > self.max_ttl:
            raise InvalidLinkRequest(
                f"ttl must be positive and at most {self.max_ttl.days} days"
            )
        expires = int(((now or self.clock()) + ttl).timestamp())
        encoded_id = _b64(profile_id.encode())
        expiry = _base36(expires)
        mac = _b64(self._mac(self.current, encoded_id, expiry))
        return f"{self.current}.{encoded_id}.{expiry}.{mac}"

    def expires_at(self, token: str) -> datetime | None:
        """When a well-formed token expires (not verified: for display only)."""
        parts = token.split(".")
        try:
            return datetime.fromtimestamp(int(parts[2], 36), UTC) if len(parts) == 4 else None
        except (ValueError, OverflowError, OSError):
            return None

    def verify(self, token: object, *, now: datetime | None = None) -> str | None:
        """The profile id ``token`` names, or ``None`` when it is tampered, expired, signed with an
        unknown key, or not a token at all. Never raises."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            return None
        parts = token.split(".")
        if len(parts) != 4:
            return None
        key_id, encoded_id, expiry, mac_text = parts
        if key_id not in self.keys:
            return None
        try:
            mac = _unb64(mac_text)
            expires = int(expiry, 36)
            profile_id = _unb64(encoded_id).decode("utf-8")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        if _b64(mac) != mac_text or _b64(profile_id.encode()) != encoded_id:
            return None  # non-canonical base64 (changed padding bits): not a token we issued
        if not hmac.compare_digest(mac, self._mac(key_id, encoded_id, expiry)):
            return None
        if expires <= (now or self.clock()).timestamp():
            return None
        return profile_id if is_profile_id(profile_id) else None

    def recognise(self, url: str | None, *, now: datetime | None = None) -> LinkVisit:
        """Find and verify the token of a page URL; see the module docstring.

        The returned ``url`` never carries the token, valid or not. Never raises.
        """
        if not url or TOKEN_PARAM + "=" not in url:
            return LinkVisit(None, url, None)
        try:
            parts = urlsplit(url)
            query = parse_qsl(parts.query, keep_blank_values=True)
        except ValueError:
            return LinkVisit(None, url, "link token ignored: the URL cannot be parsed")
        tokens = [value for name, value in query if name == TOKEN_PARAM]
        kept = [(name, value) for name, value in query if name != TOKEN_PARAM]
        profile_id = self.verify(tokens[0], now=now) if len(tokens) == 1 else None
        if profile_id is None:
            reason = "link token ignored: invalid or expired"
        else:
            reason = f"identified by a signed email link (key {tokens[0].split('.')[0]})"
            if not any(name == "utm_medium" for name, _ in kept):
                kept.append(("utm_medium", "email"))
        clean = urlunsplit(parts._replace(query=urlencode(kept)))
        return LinkVisit(profile_id, clean, reason)


def signer_from_secrets(
    secrets: Mapping[str, str],
    *,
    current: str,
    max_ttl_days: float = 365,
    clock: Clock = system_clock,
) -> LinkSigner:
    """A :class:`LinkSigner` from text secrets (as settings hold them)."""
    return LinkSigner(
        {key_id: secret.encode() for key_id, secret in secrets.items()},
        current=current,
        max_ttl=timedelta(days=max_ttl_days),
        clock=clock,
    )


def identify(
    signer: LinkSigner | None, request: DecisionRequest, *, now: datetime | None = None
) -> tuple[DecisionRequest, LinkVisit]:
    """The decision request as a link token makes it: call before :meth:`Decider.decide`.

    A valid token in ``request.context.url`` names the profile (unless the request already
    names one: a login or cookie is stronger than a forwarded mail) and the URL is marked as
    email; any token, valid or not, is removed from the URL. Without a signer or a token the
    request is returned as it is. Never raises.
    """
    if signer is None or request.context.url is None:
        return request, LinkVisit(None, request.context.url, None)
    visit = signer.recognise(request.context.url, now=now)
    if visit.reason is None:
        return request, visit
    update: dict[str, object] = {
        "context": request.context.model_copy(update={"url": visit.url})
    }
    if visit.profile_id is not None and request.profile_id is None:
        update["profile_id"] = visit.profile_id
    return request.model_copy(update=update), visit
