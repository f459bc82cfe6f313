"""Mounting the console on the app: its session middleware, error handlers and page routers."""

from __future__ import annotations

import secrets

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from service.console import (
    abtest_pages,
    auth_pages,
    content_pages,
    error_pages,
    insight_pages,
    profile_pages,
    programme_pages,
    segment_pages,
    taxonomy_pages,
    visitor_pages,
)
from service.console.session import ConsoleSessionMiddleware, ConsoleSessions
from service.console.web import CsrfRejected, LoginRequired, is_htmx
from service.settings import Settings


def _login_required(request: Request, exc: Exception) -> Response:
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": "/console/login"})
    target = request.url.path
    return RedirectResponse(f"/console/login?next={target}", status_code=303)


def _csrf_rejected(request: Request, exc: Exception) -> Response:
    return error_pages.error_page(
        request, 403,
        "The form was sent without a valid CSRF token: reload the page and try again.",
    )  # fmt: skip


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

    Call after ``app.state.api_keys`` is set and the problem handlers are installed
    (``create_app`` does both first): console pages and browsers get HTML error pages.
    """
    sessions = build_sessions(app, settings)
    app.state.console_sessions = sessions
    app.add_middleware(ConsoleSessionMiddleware, sessions=sessions)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    error_pages.install(app)
    for module in (auth_pages, content_pages, visitor_pages, insight_pages, taxonomy_pages,
                   abtest_pages, segment_pages, programme_pages, profile_pages):
        app.include_router(module.router)
