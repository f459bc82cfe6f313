"""``GET /v1/blocks/{slot}``: one slot's content as a rendered fragment, for server-side includes.

An edge or shop server includes it with ESI (``<esi:include src="/v1/blocks/hero?..."/>``) or
its own template engine, forwarding the visitor's ``User-Agent``, ``Referer`` and
``Accept-Language``; the fragment is the decided item, rendered. The decision id and the item
id come back in ``X-Kairos-Decision`` and ``X-Kairos-Item`` (so the page can report impressions
and clicks to ``/v1/feedback``). With nothing to show the answer is ``204`` with no body, and the
including page keeps its own content. Answers are personal: never cached by a shared cache.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from personalization.decider import Decider
from personalization.decisions import DecisionRequest
from personalization.links import identify

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
    slot: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$")],
    session_id: Annotated[str | None, Query(pattern=_ID)] = None,
    profile_id: Annotated[str | None, Query(pattern=_ID)] = None,
    anonymous_id: Annotated[str | None, Query(pattern=_ID)] = None,
    lang: Annotated[str | None, Query(pattern=r"^[a-z]{2}$")] = None,
    text: Annotated[str | None, Query(max_length=500, description="A search term.")] = None,
    url: Annotated[str | None, Query(max_length=2000, description="The page's URL.")] = None,
) -> Response:
    decider: Decider = request.state.decider
    now = datetime.now(UTC)
    asked = DecisionRequest(
        session_id=session_id or f"esi-{uuid.uuid4().hex}",
        profile_id=profile_id,
        anonymous_id=anonymous_id,
        slots=[slot],
        context=context_from_headers(request, url),
        text=text,
        lang=lang,
        channel="web",
    )
    # A signed newsletter-link token in the page URL names the person (and is stripped).
    asked, _visit = identify(getattr(request.state, "link_signer", None), asked, now=now)
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


class DecideUserAgentMiddleware:
    """Fills ``context.user_agent`` of ``POST /v1/decide`` from the request's header when absent.

    The website snippet leaves the User-Agent to the server (it is in every request anyway).
    Only JSON bodies of that one route are touched; anything unparseable passes unchanged and
    the route reports it.
    """

    def __init__(self, app: ASGIApp, path: str = "/v1/decide") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        agent = next((v for k, v in scope["headers"] if k == b"user-agent"), None)
        if agent is None:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = _with_user_agent(b"".join(chunks), agent.decode("latin-1")[:1000])
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        scope = {**scope, "headers": headers}
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)


def _with_user_agent(body: bytes, agent: str) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    context = data.get("context")
    if context is None:
        context = data["context"] = {}
    if not isinstance(context, dict) or context.get("user_agent"):
        return body
    context["user_agent"] = agent
    return json.dumps(data).encode()


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
