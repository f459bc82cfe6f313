"""What every console page shares: templates, the login requirement, CSRF checks.

Pages are server-rendered Jinja2 (developer-written templates in ``service/console/templates``,
autoescaped) with htmx for partial updates; htmx and the styles are served from
``/static``, never from a CDN. A page handler takes :data:`SessionDep` (a GET without a valid
session is redirected to the login form; an htmx request gets an ``HX-Redirect``), and every
POST handler also takes :data:`CsrfDep`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from service.console.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    SCOPE_SESSION,
    ConsoleSession,
    csrf_matches,
)

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class LoginRequired(Exception):
    """No valid console session: the marketer is sent to the login form."""


class CsrfRejected(Exception):
    """A console POST without the session's CSRF token."""


def current_session(request: Request) -> ConsoleSession:
    session = request.scope.get(SCOPE_SESSION)
    if not isinstance(session, ConsoleSession):
        raise LoginRequired()
    return session


async def check_csrf(request: Request) -> None:
    """Dependency for console POSTs: the CSRF token in the header (htmx) or the form field."""
    session = current_session(request)
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        token = field if isinstance(field, str) else None
    if not csrf_matches(session, token):
        raise CsrfRejected()


SessionDep = Annotated[ConsoleSession, Depends(current_session)]
CsrfDep = Annotated[None, Depends(check_csrf)]


def page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """Render a console template with the session's CSRF token and the active section."""
    session = request.scope.get(SCOPE_SESSION)
    csrf = session.csrf if isinstance(session, ConsoleSession) else ""
    return TEMPLATES.TemplateResponse(
        request, name, {"csrf": csrf, **context}, status_code=status_code
    )


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
