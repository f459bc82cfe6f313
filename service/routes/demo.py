"""``/demo``: the shop page "Bergfalke" that shows the website snippet at work (de and en).

The page is an ordinary shop page with its own default content in every
``[data-kairos-slot]`` element and the snippet (``/static/kairos.js``) with this instance's site
key. A panel "why am I seeing this" lists the reasons of the decision. ``?lang=en`` shows the
English page; ``?endpoint=`` (loopback URLs only) and ``?timeout=`` point the snippet elsewhere,
so that Kairos being down or slow can be shown.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

router = APIRouter(include_in_schema=False)

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
_LOOPBACK = re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?/?$")


@router.get("/demo")
async def demo_page(
    request: Request,
    lang: Literal["de", "en"] = "de",
    endpoint: Annotated[str | None, Query(max_length=100)] = None,
    timeout: Annotated[int, Query(ge=50, le=10_000)] = 1500,
) -> Response:
    site_key: str = request.app.state.api_keys.site
    if endpoint is not None and not _LOOPBACK.match(endpoint):
        endpoint = None  # only a local Kairos may receive this page's site key
    return TEMPLATES.TemplateResponse(
        request,
        f"demo_{lang}.html",
        {"lang": lang, "site_key": site_key, "endpoint": endpoint, "timeout": timeout},
        headers={"Cache-Control": "no-store"},
    )
