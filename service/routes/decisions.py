"""Decisions: what to show now (``POST /v1/decide``), what happened (``POST /v1/feedback``),
and what worked (``GET /v1/reports/content``).

``decide`` and ``feedback`` take the site key (:mod:`service.auth` says what it may name); the
report takes the admin key (the router is included twice by the app: :data:`router` with SITE,
:data:`admin_router` with ADMIN).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel

from intent.situation.context import from_headers
from personalization.clock import system_clock
from personalization.decisions.links import identify
from personalization.decisions.models import Decision, DecisionRequest, Feedback
from personalization.decisions.reports import ContentReport, GroupBy, content_report
from service.auth import CallerDep
from service.deps import DeciderDep, LinkSignerDep, MetricsDep

router = APIRouter(prefix="/v1", tags=["decisions"])
admin_router = APIRouter(prefix="/v1/reports", tags=["reports"])


class FeedbackAccepted(BaseModel):
    """``duplicate`` is true when this event was already recorded for the item."""

    decision_id: str
    item_id: str
    event: str
    duplicate: bool


@router.post("/decide", summary="Choose the content of each slot for this visitor, now")
async def decide(
    request: Request, body: DecisionRequest, decider: DeciderDep, metrics: MetricsDep,
    link_signer: LinkSignerDep, caller: CallerDep,
) -> Decision:
    """With the site key, the person is the one of ``X-Kairos-Identity`` (or of a signed
    newsletter link), else the anonymous visitor; an unproven ``profile_id`` is a 403."""
    now = system_clock()
    body = body.model_copy(update={"context": from_headers(body.context, request.headers),
                                   "profile_id": caller.person(body.profile_id)})
    # A signed newsletter-link token in the page URL names the person (and is stripped).
    body, _visit = identify(link_signer, body, now=now)
    decision = await decider.decide(body, now)
    metrics.decisions.labels(degraded=str(decision.degraded).lower()).inc()
    return decision


@router.post(
    "/feedback",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Report an impression, click, conversion or dismissal of a shown item",
    responses={404: {"description": "Unknown or expired decision"},
               422: {"description": "The item was not part of the decision"}},
)  # fmt: skip
async def feedback(body: Feedback, decider: DeciderDep) -> FeedbackAccepted:
    counted = await decider.feedback(body.decision_id, body.item_id, body.event, body.value)
    return FeedbackAccepted(
        decision_id=body.decision_id, item_id=body.item_id, event=body.event, duplicate=not counted
    )


@admin_router.get("/content", summary="Showings, clicks, CTR and uplift vs the holdout")
async def report(
    decider: DeciderDep,
    group_by: Annotated[GroupBy, Query(description="item, slot or phase_moment")] = "item",
) -> ContentReport:
    return await content_report(
        decider.store, group_by=group_by, namespace=decider.options.stats_namespace
    )
