"""``POST /v1/events``: sites, apps and bots report what people do.

The body is one event (an object with ``type``) or a batch ``{"events": [...]}`` of at most
``max_batch_events``. Events are documented in :mod:`personalization.profiles.events`. With the
site key only the events of :mod:`personalization.profiles.browser_events` are accepted; the
others are rejected with the rule's reason (the server and admin keys may send every type).

Partial acceptance: each event is validated on its own. The valid ones are stored and the invalid
ones are listed in ``rejected`` with their index in the batch and the reason, so nothing is dropped
silently; ``complete`` is ``false`` whenever something was rejected. Only when no event is valid is
the answer a 422 problem (with the same list under ``errors``). A repeated ``event_id`` is
accepted again and reported under ``duplicates``, applied once.

``timestamp`` is when the event happened: profiles and automation are timed from it (an order
reported months late updates the order history but sends no confirmation now). A timestamp more
than five minutes ahead of the server's clock is refused with the reason; up to that it counts
as now.

The answer comes after the store acknowledged every accepted event and the profiles are updated.
When the store cannot be reached the answer is a 503 problem with ``Retry-After``, and nothing is
acknowledged: send the same batch again (repeated ids are applied once).

What the events set off (automation programmes, A/B goals, calendar schedules) runs before the
answer with ``KAIROS_REACTIONS=inline`` (the embedded store's default), or moments later in
``kairos worker`` from the change feed (the default with Redis; see
:mod:`personalization.profiles.reactions`).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from personalization.profiles import browser_events
from personalization.profiles.event_parsing import EventProblem, parse_events
from personalization.profiles.events import Event
from personalization.profiles.service import ProfileService
from service.auth import Caller, CallerDep
from service.deps import MetricsDep, ProfileServiceDep, SettingsDep
from service.problems import problem

router = APIRouter(prefix="/v1", tags=["events"])


class RejectedEvent(BaseModel):
    index: int
    event_id: str | None
    reason: str


class EventsReceipt(BaseModel):
    """What was stored: ids applied now, ids applied before, and the events refused."""

    complete: bool
    accepted: list[str]
    duplicates: list[str]
    rejected: list[RejectedEvent]


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "description": "One event, or {\"events\": [event, ...]}.", "type": "object"}}},
    }
}


def _items(body: object) -> list[object] | str:
    """The events of the body, or why there are none."""
    if isinstance(body, dict) and "type" not in body and "events" in body:
        events = body["events"]
        if not isinstance(events, list):
            return "events must be a list"
        return list(events)
    if isinstance(body, dict):
        return [body]
    return "send one event object or {\"events\": [...]}"


@router.post("/events", summary="Report one event or a batch", response_model=EventsReceipt,
             openapi_extra=_BODY_DOC,
             responses={422: {"description": "Nothing valid in the body"},
                        503: {"description": "Store unavailable: retry later"}})
async def post_events(
    request: Request, profiles: ProfileServiceDep, settings: SettingsDep, metrics: MetricsDep,
    caller: CallerDep,
) -> EventsReceipt | JSONResponse:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        return problem(422, "Invalid request", f"the body is not JSON: {exc}", request=request)
    items = _items(body)
    if isinstance(items, str):
        return problem(422, "Invalid request", items, request=request)
    if not items:
        return problem(422, "Invalid request", "the batch is empty", request=request)
    if len(items) > settings.max_batch_events:
        return problem(422, "Invalid request", f"{len(items)} events in one batch; send at most "
                       f"{settings.max_batch_events} per request", request=request)
    events, bad = parse_events(items, now=profiles.clock())
    if not caller.trusted:
        events, bad = await _only_allowed(caller, profiles, events, bad)
    if bad:
        metrics.events.labels("rejected").inc(len(bad))
    if not events:
        return problem(422, "Invalid event", _summary(bad), request=request,
                       errors=[b.as_dict() for b in bad])
    report = await profiles.ingest(events)
    metrics.events.labels("accepted").inc(len(report.accepted))
    if report.duplicates:
        metrics.events.labels("duplicate").inc(len(report.duplicates))
    return EventsReceipt(
        complete=not bad,
        accepted=report.accepted,
        duplicates=report.duplicates,
        rejected=[RejectedEvent(**b.as_dict()) for b in bad],
    )


async def _only_allowed(
    caller: Caller, profiles: ProfileService, events: list[Event], bad: list[EventProblem]
) -> tuple[list[Event], list[EventProblem]]:
    """The events the (site key) caller may send, and the others refused with the rule's reason.

    Refusing an event never loses the rest of the batch (the index is the batch's).
    """
    taken = {problem.index for problem in bad}
    indices = [i for i in range(len(events) + len(bad)) if i not in taken]
    known = await browser_events.known_ids(
        profiles.store, {e.anonymous_id for e in events if e.profile_id is None and e.anonymous_id})
    allowed: list[Event] = []
    refused = list(bad)
    for index, event in zip(indices, events, strict=True):
        reason = caller.event_refusal(event)
        if reason is None and event.profile_id is None and event.anonymous_id in known:
            reason = ("anonymous_id names a known customer's profile: a browser sends its own "
                      "random anonymous id")
        if reason is None:
            allowed.append(event)
        else:
            refused.append(EventProblem(index, event.event_id, f"not allowed with the site key: "
                                                               f"{reason}"))
    return allowed, sorted(refused, key=lambda problem: problem.index)


def _summary(bad: list[EventProblem]) -> str:
    first = bad[0]
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return f"event {first.index}: {first.reason}{more}"
