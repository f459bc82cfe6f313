"""Decisions: what to show now (``POST /v1/decide``), what happened (``POST /v1/feedback``),
and what worked (``GET /v1/reports/content``).

``decide`` and ``feedback`` take the site key; the report takes the admin key (the router is
included twice by the app: :data:`router` with SITE, :data:`admin_router` with ADMIN).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel

from content_pool.errors import ContentError
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import MemoryContentStore, RedisContentStore, import_items
from content_pool.yaml_io import load_dir
from intent.situation.context import client_hints
from intent.situation.reader import SituationReader as IntentSituationReader
from personalization.clock import system_clock
from personalization.decider import (
    ConsentedProfiles,
    Decider,
    DeciderOptions,
    DecisionStore,
    IntentPredictor,
    ProfileFinder,
    SituationReader,
)
from personalization.decisions import Decision, DecisionRequest, Feedback
from personalization.holdout import Holdout
from personalization.links import identify
from personalization.policies import create_rng, make_policy
from personalization.ranking import Encoder, FeatureIndex, Ranker, ScoringWeights
from personalization.redis_store import RedisStore
from personalization.reports import ContentReport, GroupBy, content_report
from service.observability import Metrics
from service.settings import Settings

log = logging.getLogger("kairos.decisions")

router = APIRouter(prefix="/v1", tags=["decisions"])
admin_router = APIRouter(prefix="/v1/reports", tags=["reports"])


def build_decider(
    settings: Settings,
    store: DecisionStore,
    pool: ContentPool,
    renderer: Renderer,
    *,
    encoder: Encoder | None = None,
    situation_reader: SituationReader | None = None,
    intent: IntentPredictor | None = None,
    profiles: ProfileFinder | None = None,
) -> Decider:
    """The decider configured from ``settings`` (built in the lifespan).

    Raises ``ValueError`` for an unknown policy, bad policy options or bad scoring weights.
    """
    options = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in settings.decision_policy_options.items()
    }
    policy = make_policy(settings.decision_policy, create_rng(settings.decision_seed), **options)
    return Decider(
        pool,
        store,
        renderer=renderer,
        policy=policy,
        features=FeatureIndex(encoder),
        ranker=Ranker(ScoringWeights.from_mapping(settings.scoring_weights)),
        situation_reader=situation_reader,
        intent=intent,
        profiles=ConsentedProfiles(profiles, clock=system_clock) if profiles else None,
        holdout=Holdout(settings.holdout_share, settings.holdout_salt),
        options=DeciderOptions(
            default_language=settings.languages[0] if settings.languages else "de",
            min_intent_confidence=settings.min_intent_confidence,
            decision_ttl=timedelta(hours=settings.decision_ttl_hours),
            pool_refresh=(
                timedelta(seconds=settings.content_refresh_seconds)
                if settings.content_refresh_seconds > 0
                else None
            ),
        ),
    )


async def start(settings: Settings, state: dict[str, Any]) -> None:
    """Build the content store, pool and renderer (unless present) and the decider into
    ``state``, with readiness checks. Called from the app's lifespan.

    The content store shares the Redis client of ``state["store"]`` when it is a RedisStore;
    an empty store is filled from ``settings.content_dir``. The situation reader, intent service
    and profile service are used when the lifespan built them before this call.
    """
    store = state["store"]
    if "content_store" not in state:
        state["content_store"] = (
            RedisContentStore(store.redis, prefix=settings.redis_prefix)
            if isinstance(store, RedisStore)
            else MemoryContentStore()
        )
    renderer = state.setdefault("content_renderer", Renderer())
    content_store = state["content_store"]
    if settings.content_dir is not None:
        drafts = load_dir(settings.content_dir)
        renderer.validate_all(drafts)  # a broken bundled pool is a bug: fail the start
        try:
            if not await content_store.all():
                await import_items(content_store, drafts)
        except (ContentError, OSError) as exc:
            log.warning("content not loaded at start: %s", exc)
    pool = state.setdefault("content_pool", ContentPool(content_store))
    if "situation_reader" not in state:
        state["situation_reader"] = IntentSituationReader(
            internal_hosts=settings.internal_hosts,
            languages=settings.languages,
            default_timezone=settings.default_timezone,
        )
    intent = state.get("intent_service")
    decider = build_decider(
        settings,
        store,
        pool,
        renderer,
        encoder=getattr(intent, "encoder", None),
        situation_reader=state["situation_reader"],
        intent=intent,
        profiles=state.get("profiles"),
    )
    try:
        await decider.refresh_pool(system_clock())
    except (ContentError, OSError) as exc:  # the store may come back; decide() retries
        log.warning("content pool not loaded at start: %s", exc)
    state["decider"] = decider

    async def content_fresh() -> str | None:
        # An empty pool is a valid state (slots answer empty); a pool that stopped refreshing
        # is not: this worker would serve edits of long ago.
        every = decider.options.pool_refresh
        age = decider.pool_age(system_clock())
        if every is not None and (age is None or age > 10 * every):
            return f"content pool not refreshed for {age}"
        return None

    state["readiness"].add("content", content_fresh)


def get_decider(request: Request) -> Decider:
    decider: Decider = request.state.decider
    return decider


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.state.metrics
    return metrics


DeciderDep = Annotated[Decider, Depends(get_decider)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


class FeedbackAccepted(BaseModel):
    """``duplicate`` is true when this event was already recorded for the item."""

    decision_id: str
    item_id: str
    event: str
    duplicate: bool


@router.post("/decide", summary="Choose the content of each slot for this visitor, now")
async def decide(
    request: Request, body: DecisionRequest, decider: DeciderDep, metrics: MetricsDep
) -> Decision:
    now = system_clock()
    agent = request.headers.get("user-agent")
    if body.context.user_agent is None and agent:  # the snippet leaves it to the header
        body = body.model_copy(update={"context": body.context.model_copy(
            update={"user_agent": agent[:1000], **client_hints(request.headers)})})
    # A signed newsletter-link token in the page URL names the person (and is stripped).
    body, _visit = identify(getattr(request.state, "link_signer", None), body, now=now)
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
