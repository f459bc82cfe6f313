"""``/demo``: the shop page "Bergfalke" that shows the website snippet at work (de and en).

The page is an ordinary shop page with its own default content in every
``[data-kairos-slot]`` element and the snippet (``/static/kairos.js``) with this instance's site
key. A panel "why am I seeing this" lists the reasons of the decision. ``?lang=en`` shows the
English page; ``?endpoint=`` (loopback URLs only) and ``?timeout=`` point the snippet elsewhere,
so that Kairos being down or slow can be shown.

``?login=dora`` (development only) shows a logged-in customer the way a shop does it: the page,
rendered on the server, carries an identity token signed for the demo customer
:data:`DEMO_CUSTOMER` (created on first use: a first name, consent, a tent in the basket). The
page never signs for an id taken from the URL: that would hand anyone a token for anyone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from personalization.profiles.event_parsing import parse_events
from personalization.profiles.signed_identity import IdentityVerifier
from service.deps import ProfileServiceDep, SettingsDep

router = APIRouter(include_in_schema=False)

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
_LOOPBACK = re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?/?$")
DEMO_CUSTOMER = "demo:dora"
"""The one profile the demo page signs identities for (in development)."""
_DEMO_EVENTS = [
    {"event_id": "demo-dora-1", "type": "profile_update", "profile_id": DEMO_CUSTOMER,
     "properties": {"first_name": "Dora", "language": "de"}},
    {"event_id": "demo-dora-2", "type": "consent_update", "profile_id": DEMO_CUSTOMER,
     "properties": {"consents": {"personalisation": True}, "source": "demo"}},
    {"event_id": "demo-dora-3", "type": "add_to_cart", "profile_id": DEMO_CUSTOMER,
     "properties": {"product_id": "zelt-gipfel-2", "name": "Zelt Gipfel 2", "category": "camping",
                    "price": 299.0, "currency": "EUR"}},
]  # fmt: skip


@router.get("/demo")
async def demo_page(
    request: Request,
    settings: SettingsDep,
    profiles: ProfileServiceDep,
    lang: Literal["de", "en"] = "de",
    endpoint: Annotated[str | None, Query(max_length=100)] = None,
    timeout: Annotated[int, Query(ge=50, le=10_000)] = 1500,
    login: Literal["dora"] | None = None,
) -> Response:
    site_key: str = request.app.state.api_keys.site
    if endpoint is not None and not _LOOPBACK.match(endpoint):
        endpoint = None  # only a local Kairos may receive this page's site key
    identity = None
    if login is not None and settings.environment == "development":
        events, _ = parse_events(_DEMO_EVENTS)
        await profiles.ingest(events)  # applied once: the event ids repeat
        verifier: IdentityVerifier = request.app.state.identity_verifier
        identity = verifier.sign(DEMO_CUSTOMER, ttl=min(3600, verifier.max_lifetime))
    return TEMPLATES.TemplateResponse(
        request,
        f"demo_{lang}.html",
        {"lang": lang, "site_key": site_key, "endpoint": endpoint, "timeout": timeout,
         "identity": identity},
        headers={"Cache-Control": "no-store"},
    )
