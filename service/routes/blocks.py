"""``GET /v1/blocks/{slot}``: one slot's content as a rendered fragment, for server-side includes.

An edge or shop server includes it with ESI (``<esi:include src="/v1/blocks/hero?..."/>``) or
its own template engine, forwarding the visitor's ``User-Agent``, ``Referer`` and
``Accept-Language``; the fragment is the decided item, rendered. The decision id and the item
id come back in ``X-Kairos-Decision`` and ``X-Kairos-Item`` (so the page can report impressions
and clicks to ``/v1/feedback``). With nothing to show the answer is ``204`` with no body, and the
including page keeps its own content. Answers are personal: never cached by a shared cache.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from intent.situation.context import client_hints
from personalization.decisions.links import identify
from personalization.decisions.models import DecisionRequest
from personalization.profiles.ids import ProfileId
from service.auth import CallerDep
from service.deps import DeciderDep, LinkSignerDep

router = APIRouter(prefix="/v1/blocks", tags=["blocks"])

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_HEADERS = {
    "Cache-Control": "private, no-store",
    "Vary": "User-Agent, Referer, Accept-Language",
}


def context_from_headers(request: Request, url: str | None = None) -> dict[str, Any]:
    """The situation input the visitor's forwarded headers describe."""
    context: dict[str, Any] = {}
    for field, header in (
        ("user_agent", "user-agent"), ("referrer", "referer"),
        ("accept_language", "accept-language"),
    ):  # fmt: skip
        value = request.headers.get(header)
        if value:
            context[field] = value[:1000]
    if "user_agent" in context:
        context.update(client_hints(request.headers))
    if url:
        context["url"] = url
    return context


@router.get(
    "/{slot}",
    summary="A slot's content as an HTML (or text) fragment, for server-side includes",
    responses={200: {"content": {"text/html": {}, "text/plain": {}}}, 204: {}},
)
async def block(
    request: Request,
    decider: DeciderDep,
    link_signer: LinkSignerDep,
    caller: CallerDep,
    slot: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$")],
    session_id: Annotated[str | None, Query(pattern=_ID)] = None,
    profile_id: Annotated[ProfileId | None, Query()] = None,
    anonymous_id: Annotated[ProfileId | None, Query()] = None,
    lang: Annotated[str | None, Query(pattern=r"^[a-z]{2}$")] = None,
    text: Annotated[str | None, Query(max_length=500, description="A search term.")] = None,
    url: Annotated[str | None, Query(max_length=2000, description="The page's URL.")] = None,
) -> Response:
    now = datetime.now(UTC)
    asked = DecisionRequest(
        session_id=session_id or f"esi-{uuid.uuid4().hex}",
        profile_id=caller.person(profile_id),
        anonymous_id=anonymous_id,
        slots=[slot],
        context=context_from_headers(request, url),
        text=text,
        lang=lang,
        channel="web",
    )
    # A signed newsletter-link token in the page URL names the person (and is stripped).
    asked, _visit = identify(link_signer, asked, now=now)
    decision = await decider.decide(asked, now)
    placed = decision.slots.get(slot) or []
    headers = {**_HEADERS, "X-Kairos-Decision": decision.decision_id}
    if not placed or (placed[0].html is None and placed[0].text is None):
        return Response(status_code=204, headers=headers)
    item = placed[0]
    headers["X-Kairos-Item"] = item.item_id
    if item.html is not None:
        return Response(item.html, media_type="text/html; charset=utf-8", headers=headers)
    return Response(item.text, media_type="text/plain; charset=utf-8", headers=headers)
