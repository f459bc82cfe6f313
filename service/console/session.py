"""Console sessions: a signed cookie after login with the admin key, and its CSRF token.

The cookie (``kairos_console``) carries ``{"role", "csrf", "key"}`` signed with itsdangerous
(``settings.session_secret``, or a secret generated per process). ``key`` is a fingerprint of the
admin key, so rotating the key ends every session. The cookie is ``HttpOnly`` and
``SameSite=Strict``; the key itself never reaches the browser's JavaScript.

:class:`ConsoleSessionMiddleware` reads the cookie on every request and, when it is valid, sets
``scope["kairos_console_role"]`` (read by :func:`service.auth.role`) so the console's pages and
the htmx calls they make to the ``/v1`` API are authorised as admin. For unsafe methods (POST,
PUT, PATCH, DELETE) the role is only granted when the request also carries the session's CSRF
token in the ``X-CSRF-Token`` header; console form posts are checked by :func:`check_csrf`,
which also accepts the ``csrf_token`` form field.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "kairos_console"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SCOPE_SESSION = "kairos_console_session"
SCOPE_ROLE = "kairos_console_role"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A logged-in marketer: the role the session grants and its CSRF token."""

    role: str
    csrf: str


class ConsoleSessions:
    """Issues and reads signed session cookies.

    >>> sessions = ConsoleSessions("secret", admin_key="admin-...")
    >>> cookie, session = sessions.issue()
    >>> sessions.read(cookie) == session
    True
    """

    def __init__(self, secret: str, *, admin_key: str, max_age_seconds: int = 8 * 3600) -> None:
        assert secret, "a session secret is needed"
        self.max_age_seconds = max_age_seconds
        self._serializer = URLSafeTimedSerializer(secret, salt="kairos-console")
        self._key_print = hashlib.sha256(admin_key.encode()).hexdigest()[:16]
        self._admin_key = admin_key

    def admin_key_matches(self, key: str) -> bool:
        """Constant-time check of a key typed into the login form."""
        return bool(key) and hmac.compare_digest(key.encode(), self._admin_key.encode())

    def issue(self) -> tuple[str, ConsoleSession]:
        """A new admin session and the cookie value that carries it."""
        session = ConsoleSession(role="admin", csrf=secrets.token_urlsafe(32))
        cookie = self._serializer.dumps(
            {"role": session.role, "csrf": session.csrf, "key": self._key_print}
        )
        return str(cookie), session

    def read(self, cookie: str | None) -> ConsoleSession | None:
        """The session in a cookie value, or ``None`` when missing, forged, expired or stale."""
        if not cookie:
            return None
        try:
            data: Any = self._serializer.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:
            return None
        if not isinstance(data, dict) or data.get("key") != self._key_print:
            return None
        role, csrf = data.get("role"), data.get("csrf")
        if role != "admin" or not isinstance(csrf, str):
            return None
        return ConsoleSession(role=role, csrf=csrf)


def csrf_matches(session: ConsoleSession, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(str(token).encode(), session.csrf.encode())


def _cookie_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is just no session
                return None
            morsel = jar.get(COOKIE)
            if morsel is not None:
                return morsel.value
    return None


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return None


class ConsoleSessionMiddleware:
    """Puts the console session (and for safe or CSRF-checked requests its role) in the scope."""

    def __init__(self, app: ASGIApp, sessions: ConsoleSessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            session = self.sessions.read(_cookie_of(scope))
            if session is not None:
                scope[SCOPE_SESSION] = session
                method = scope.get("method", "GET")
                if method in SAFE_METHODS or csrf_matches(
                    session, _header(scope, CSRF_HEADER.encode())
                ):
                    scope[SCOPE_ROLE] = session.role
        await self.app(scope, receive, send)
