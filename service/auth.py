"""API keys: a public site key for websites and chatbots, an admin key for marketers.

Sent as ``X-API-Key``. The admin key also opens every public route. Missing key: 401; a key that
does not open the route: 403. Comparison is constant-time.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from fastapi.exceptions import HTTPException

Role = Literal["site", "admin"]


@dataclass(frozen=True)
class ApiKeys:
    site: str
    admin: str

    @classmethod
    def generate(cls) -> ApiKeys:
        return cls(
            site="site-" + secrets.token_urlsafe(18), admin="admin-" + secrets.token_urlsafe(24)
        )

    def role_of(self, key: str | None) -> Role | None:
        if not key:
            return None
        if hmac.compare_digest(key.encode(), self.admin.encode()):
            return "admin"
        if hmac.compare_digest(key.encode(), self.site.encode()):
            return "site"
        return None


def _keys(request: Request) -> ApiKeys:
    keys: ApiKeys = request.app.state.api_keys
    return keys


def role(request: Request) -> Role | None:
    """The role of the request's key (header, or the console's session), or ``None``."""
    header = request.headers.get("x-api-key")
    found = _keys(request).role_of(header)
    if found is None and header is None:
        session_role = request.scope.get("kairos_console_role")
        if session_role in ("site", "admin"):
            return session_role  # type: ignore[no-any-return]
    return found


async def require_site(request: Request) -> Role:
    """Dependency: the site key or the admin key."""
    found = role(request)
    if found is None:
        _refuse(request)
    assert found is not None
    return found


async def require_admin(request: Request) -> Role:
    """Dependency: the admin key only."""
    found = role(request)
    if found != "admin":
        _refuse(request, wrong_role=found is not None)
    return "admin"


def _refuse(request: Request, *, wrong_role: bool = False) -> None:
    header = request.headers.get("x-api-key")
    if header is None:
        raise HTTPException(401, "Send your API key in the X-API-Key header.",
                            headers={"WWW-Authenticate": "ApiKey"})
    if wrong_role:
        raise HTTPException(403, "This route needs the admin key; the key sent is the site key.")
    raise HTTPException(403, "The API key sent is not valid for this Kairos instance.")
