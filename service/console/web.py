"""What every console page shares: templates, the login requirement, CSRF checks, ``install``.

Pages are server-rendered Jinja2 (developer-written templates in ``service/console/templates``,
autoescaped) with htmx for partial updates; htmx and the styles are served from
``/static``, never from a CDN. A page handler takes :data:`SessionDep` (a GET without a valid
session is redirected to the login form; an htmx request gets an ``HX-Redirect``), and every
POST handler also takes :data:`CsrfDep`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from service.console.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    SCOPE_SESSION,
    ConsoleSession,
    ConsoleSessionMiddleware,
    ConsoleSessions,
    csrf_matches,
)
from service.settings import Settings

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


def _login_required(request: Request, exc: Exception) -> Response:
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": "/console/login"})
    target = request.url.path
    return RedirectResponse(f"/console/login?next={target}", status_code=303)


def _csrf_rejected(request: Request, exc: Exception) -> Response:
    return Response(
        "The form was sent without a valid CSRF token: reload the page and try again.",
        status_code=403,
        media_type="text/plain",
    )


def build_sessions(app: FastAPI, settings: Settings) -> ConsoleSessions:
    secret = (
        settings.session_secret.get_secret_value()
        if settings.session_secret is not None
        else secrets.token_urlsafe(32)
    )
    return ConsoleSessions(
        secret,
        admin_key=app.state.api_keys.admin,
        max_age_seconds=int(settings.console_session_hours * 3600),
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Add the console to ``app``: its session middleware, error handlers and routers.

    Call after ``app.state.api_keys`` is set (``create_app`` does that first).
    """
    import service.console.auth_pages as auth_pages
    import service.console.content_pages as content_pages
    import service.console.insight_pages as insight_pages
    import service.console.visitor_pages as visitor_pages

    sessions = build_sessions(app, settings)
    app.state.console_sessions = sessions
    app.add_middleware(ConsoleSessionMiddleware, sessions=sessions)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    for module in (auth_pages, content_pages, visitor_pages, insight_pages):
        app.include_router(module.router)
