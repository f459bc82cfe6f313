"""Signed identities: what the shop's backend signs and what Kairos accepts as proof."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from personalization.profiles.signed_identity import (
    IdentityRefused,
    IdentityVerifier,
    sign_identity,
)

SECRET = b"the-identity-secret-of-the-shop"
OLD = b"last-years-identity-secret-000"
NOW = 1_800_000_000


def verifier(*secrets: bytes, hours: float = 24) -> IdentityVerifier:
    return IdentityVerifier(list(secrets or (SECRET,)), max_lifetime=hours * 3600,
                            clock=lambda: NOW)


def _stdlib_token(secret: bytes, profile_id: str, expires: int) -> str:
    """The README's signer, line for line."""
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    mac = hmac.new(secret, f"kairos-identity|v1|{profile_id}|{expires}".encode(),
                   hashlib.sha256).digest()
    return f"v1.{b64(profile_id.encode())}.{expires}.{b64(mac)}"


@pytest.mark.parametrize("who", ["cust-4004", "ada@example.org", "C:0042_de"])
def test_a_token_of_the_readme_signer_proves_its_profile(who: str) -> None:
    token = _stdlib_token(SECRET, who, NOW + 600)
    assert token == sign_identity(SECRET, who, expires=NOW + 600)
    assert verifier().verify(token) == who


def test_rotation_keeps_the_previous_secret_valid_until_it_is_dropped() -> None:
    old_token = sign_identity(OLD, "cust-1", expires=NOW + 60)
    assert verifier(SECRET, OLD).verify(old_token) == "cust-1"
    assert verifier(SECRET, OLD).sign("cust-1", ttl=60) == sign_identity(
        SECRET, "cust-1", expires=NOW + 60)  # new tokens: the current secret
    with pytest.raises(IdentityRefused) as refused:
        verifier(SECRET).verify(old_token)
    assert refused.value.kind == "forged"


@pytest.mark.parametrize(("token", "kind"), [
    (sign_identity(b"someone-elses-secret-123", "cust-1", expires=NOW + 60), "forged"),
    (sign_identity(SECRET, "cust-1", expires=NOW + 60).replace("Y3VzdC0x", "Y3VzdC0y"), "forged"),
    (sign_identity(SECRET, "cust-1", expires=NOW + 60)[:-3] + "AAA", "forged"),
    (sign_identity(SECRET, "cust-1", expires=NOW), "expired"),
    (sign_identity(SECRET, "cust-1", expires=NOW - 3600), "expired"),
    (sign_identity(SECRET, "cust-1", expires=NOW + 24 * 3600 + 1), "too_long_lived"),
    ("", "malformed"),
    ("v1.abc", "malformed"),
    ("v2." + sign_identity(SECRET, "cust-1", expires=NOW + 60)[3:], "malformed"),
    ("v1.%%%.1800000060.abc", "malformed"),
    ("v1.Y3VzdCAx.1800000060.abc", "malformed"),  # "cust 1": not an id
    ("v1.Y3VzdC0x.-5.abc", "malformed"),
    ("v1." + "A" * 600, "malformed"),
])  # fmt: skip
def test_what_proves_nothing_is_refused_with_its_reason(token: str, kind: str) -> None:
    with pytest.raises(IdentityRefused) as refused:
        verifier().verify(token)
    assert refused.value.kind == kind
    assert str(refused.value)  # a message a person can act on


def test_the_signer_refuses_what_the_verifier_would() -> None:
    with pytest.raises(ValueError, match="at most 3600"):
        verifier(hours=1).sign("cust-1", ttl=7200)
    with pytest.raises(ValueError, match="1-128 characters"):
        sign_identity(SECRET, "not an id", expires=NOW + 60)
