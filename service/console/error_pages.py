"""HTML error pages for people in a browser: console pages and unknown pages never answer JSON.

A request under ``/console`` (or any non-API page a browser asks for, ``Accept: text/html``)
that ends in 404, 403, 405 or 500 gets a page in the console's style that says what happened and
where to go next. API paths (``/v1/...``) and clients that do not ask for HTML keep the
problem+json answers of :mod:`service.problems`: the handlers that were installed before are
called for them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.console.web import page

log = logging.getLogger("kairos.console")

Handler = Callable[[Request, Exception], Awaitable[Response] | Response]

_API_PREFIXES = ("/v1/", "/metrics", "/health", "/openapi.json", "/static/")

_PAGES: dict[int, tuple[str, str]] = {
    403: ("Not allowed", "This action was refused. If you sent a form, reload the page and try "
                         "again: forms expire with the session."),
    404: ("Page not found", "There is no page at this address. It may have been deleted or "
                            "renamed; the menu above leads to every part of the console."),
    405: ("Not possible here", "This address does not take that kind of request. Use the menu "
                               "or go back to the previous page."),
    500: ("Something went wrong", "Kairos could not show this page; the error has been logged. "
                                  "Try again in a moment, and if it persists give the request "
                                  "id below to your administrator."),
}


def wants_html(request: Request) -> bool:
    """A console page, or a browser asking for a page that is not part of the API."""
    path = request.url.path
    if path == "/console" or path.startswith("/console/"):
        return True
    return "text/html" in request.headers.get("accept", "") and not path.startswith(
        _API_PREFIXES
    )


def error_page(request: Request, status: int, detail: str | None = None) -> Response:
    title, text = _PAGES.get(status, ("Error", "The request could not be completed."))
    context: dict[str, Any] = {
        "status": status, "title": title, "text": text, "detail": detail,
        "request_id": getattr(request.state, "request_id", None), "section": None,
    }  # fmt: skip
    return page(request, "error.html", context, status_code=status)


async def _respond(previous: Handler, request: Request, exc: Exception) -> Response:
    result = previous(request, exc)
    return await result if isinstance(result, Awaitable) else result


def install(app: FastAPI) -> None:
    """Wrap the app's HTTP-error and unexpected-error handlers (install them first)."""
    previous_http: Handler = app.exception_handlers[StarletteHTTPException]
    previous_any: Handler = app.exception_handlers[Exception]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if wants_html(request) and exc.status_code in _PAGES:
            detail = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else None
            return error_page(request, exc.status_code, detail)
        return await _respond(previous_http, request, exc)

    async def unexpected(request: Request, exc: Exception) -> Response:
        if wants_html(request):
            log.exception("console page failed",
                          extra={"request_id": getattr(request.state, "request_id", None)})
            return error_page(request, 500)
        return await _respond(previous_any, request, exc)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
