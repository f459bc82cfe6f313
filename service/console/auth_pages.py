"""Console login (the admin key, once, in a form) and logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from service.console.session import COOKIE, ConsoleSessions
from service.console.web import CsrfDep, SessionDep, page

router = APIRouter(prefix="/console", include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only console paths: an open redirect to another site must not be possible.
    if target and target.startswith("/console/") and not target.startswith("/console//"):
        return target
    return "/console/content"


@router.get("")
async def console_home(session: SessionDep) -> RedirectResponse:
    return RedirectResponse("/console/content", status_code=303)


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return page(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
async def login(
    request: Request,
    key: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    sessions: ConsoleSessions = request.app.state.console_sessions
    if not sessions.admin_key_matches(key.strip()):
        return page(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "That is not the admin key of this Kairos."},
            status_code=401,
        )
    cookie, _ = sessions.issue()
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=sessions.max_age_seconds,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(session: SessionDep, _: CsrfDep) -> RedirectResponse:
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
