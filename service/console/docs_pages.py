"""The API documentation pages, served with no request leaving the machine.

``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) load their scripts and styles from ``/static/vendor``
(copied from the npm packages ``swagger-ui-dist`` and ``redoc``, licence files beside them), not
from a CDN, so the docs work offline and behind a firewall. Swagger UI's online validator badge
and ReDoc's web fonts are switched off for the same reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

_SWAGGER = "/static/vendor/swagger-ui"
_REDOC = "/static/vendor/redoc"


def _openapi_url(request: Request) -> str:
    return str(request.app.openapi_url or "/openapi.json")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} – API",
        swagger_js_url=f"{_SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{_SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{_SWAGGER}/favicon-32x32.png",
        oauth2_redirect_url=None,
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} – API",
        redoc_js_url=f"{_REDOC}/redoc.standalone.js",
        redoc_favicon_url=f"{_SWAGGER}/favicon-32x32.png",
        with_google_fonts=False,
    )
