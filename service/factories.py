"""How each component is built from the settings: one function per component.

:func:`service.components.build_components` calls these in dependency order; the worker and
the CLI use the ones they need. Each takes its collaborators as arguments and reads only the
settings it is given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta

import yaml

from content_pool.catalog import check_categories
from content_pool.errors import ContentError
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import ContentStore, import_items
from content_pool.yaml_io import load_dir
from intent.encoder import build_encoder
from intent.interest import InterestReader
from intent.service import IntentService
from intent.situation.reader import SituationReader
from personalization.automation.next_action import NextActionPlanner, QuietHours
from personalization.automation.programmes import load_programmes
from personalization.automation.schedules import Schedules, parse_schedules
from personalization.clock import system_clock
from personalization.decisions.decider import (
    ConsentedProfiles,
    Decider,
    DeciderOptions,
    DeciderParts,
    PlannerAdvisor,
)
from personalization.decisions.holdout import Holdout
from personalization.decisions.links import LinkSigner
from personalization.decisions.policies import create_rng, make_policy
from personalization.decisions.ranking import FeatureIndex, Ranker, ScoringWeights
from personalization.decisions.session_memory import VisitMemory
from personalization.experiments.abtests import ABTests
from personalization.experiments.segments import Segments
from personalization.profiles.affinity import AffinityPolicy
from personalization.profiles.events import Purpose
from personalization.profiles.lifecycle import LifecyclePolicy
from personalization.profiles.profile import ProfilePolicy
from personalization.profiles.sensitivity import DEFAULT_SENSITIVE_CATEGORIES, SensitivityPolicy
from personalization.profiles.service import EventListener, ProfileService
from service.backend import Backend, Scheduler, Store
from service.settings import Settings

log = logging.getLogger("kairos.components")


def sensitivity_policy(settings: Settings) -> SensitivityPolicy:
    categories = settings.sensitive_categories
    return SensitivityPolicy(
        categories=frozenset(categories) if categories is not None
        else DEFAULT_SENSITIVE_CATEGORIES,
        consent_purpose=settings.sensitive_consent_purpose,
    )  # fmt: skip


def link_signer(settings: Settings) -> LinkSigner | None:
    """The link signer of ``settings``, or ``None`` when no link secret is configured."""
    if settings.link_secret is None:
        return None
    keys = {key_id: s.get_secret_value().encode()
            for key_id, s in settings.link_previous_secrets.items()}  # fmt: skip
    keys[settings.link_key_id] = settings.link_secret.get_secret_value().encode()
    return LinkSigner(keys, current=settings.link_key_id,
                      max_ttl=timedelta(days=settings.link_max_ttl_days))  # fmt: skip


def profile_policy(settings: Settings) -> ProfilePolicy:
    return ProfilePolicy(
        affinity=AffinityPolicy(half_life=timedelta(days=settings.affinity_half_life_days),
                                max_labels=settings.max_affinities),
        lifecycle=LifecyclePolicy(
            new_customer_days=settings.lifecycle_new_customer_days,
            active_min_orders=settings.lifecycle_active_min_orders,
            loyal_min_orders=settings.lifecycle_loyal_min_orders,
            at_risk_days=settings.lifecycle_at_risk_days,
            lapsed_days=settings.lifecycle_lapsed_days,
        ),
        consent_defaults=frozenset(Purpose(p) for p in settings.consent_defaults),
    )


def profile_service(
    settings: Settings,
    backend: Backend,
    *,
    listeners: tuple[EventListener, ...] = (),
    erasers: tuple[Callable[[str], Awaitable[object]], ...] = (),
    interests: InterestReader | None = None,
) -> ProfileService:
    """The profile service; with ``KAIROS_REACTIONS_IN_WORKER`` it leaves changes in a feed
    for ``kairos worker`` instead of running ``listeners`` inline. With ``interests`` it reads
    the topics of events that name no category into the affinities."""
    lease = timedelta(seconds=settings.action_lease_seconds)
    changes = backend.change_feed(lease=lease) if settings.reactions_in_worker else None
    return ProfileService(backend.store, clock=system_clock, policy=profile_policy(settings),
                          listeners=listeners, erasers=erasers,
                          max_carried_events=settings.max_events_per_profile, changes=changes,
                          interests=interests)


async def intent_service(settings: Settings) -> IntentService | None:
    """The intent model behind ``/v1/intent``, chat and decisions (``None`` when turned off).

    Loads the saved model whose training data matches, else trains one (seconds) and saves it;
    both run in a thread so the event loop stays free.
    """
    if settings.intent_encoder is None:
        return None
    # One BLAS thread per worker: several workers share the cores (uvicorn --workers).
    encoder = await asyncio.to_thread(build_encoder, settings.intent_encoder, threads=1,
                                      serving=True)  # fmt: skip
    return await asyncio.to_thread(
        IntentService.load_or_train, encoder=encoder, model_dir=settings.intent_model_dir,
        data_path=settings.intent_data,
    )  # fmt: skip


async def build_content_store(
    settings: Settings, backend: Backend, renderer: Renderer, categories: Collection[str]
) -> ContentStore:
    """The content store; an empty one is filled from ``settings.content_dir``, whose items
    may name only ``categories`` (the taxonomy's)."""
    store = backend.content_store()
    if settings.content_dir is not None:
        drafts = load_dir(settings.content_dir)
        renderer.validate_all(drafts)  # a broken bundled pool is a bug: fail the start
        check_categories(drafts, categories)
        try:
            if not await store.all():
                await import_items(store, drafts)
        except (ContentError, OSError) as exc:
            log.warning("content not loaded at start: %s", exc)
    return store


def default_language(settings: Settings) -> str:
    return settings.languages[0] if settings.languages else "de"


def build_planner(settings: Settings, pool: ContentPool, store: Store,
             sensitivity: SensitivityPolicy) -> NextActionPlanner:  # fmt: skip
    programmes = (load_programmes(settings.programmes_file) if settings.programmes_file
                  else load_programmes())  # fmt: skip
    return NextActionPlanner(
        programmes,
        pool=pool,
        caps=store,
        quiet_hours=QuietHours(start=settings.quiet_hours_start, end=settings.quiet_hours_end),
        weekly_cap=settings.weekly_contact_cap,
        weekly_cap_total=settings.weekly_contact_cap_total,
        default_timezone=settings.default_timezone,
        default_language=default_language(settings),
        sensitivity=sensitivity,
    )


def build_schedules(settings: Settings, planner: NextActionPlanner, scheduler: Scheduler,
               sensitivity: SensitivityPolicy, segments: Segments) -> Schedules | None:  # fmt: skip
    if settings.schedules_file is None:
        return None
    data = yaml.safe_load(settings.schedules_file.read_text(encoding="utf-8"))
    return Schedules(parse_schedules(data), planner, scheduler,
                     sensitivity=sensitivity, segments=segments)  # fmt: skip


def decider(
    settings: Settings,
    store: Store,
    pool: ContentPool,
    renderer: Renderer,
    *,
    situation_reader: SituationReader,
    intent: IntentService | None,
    profiles: ConsentedProfiles,
    next_action: PlannerAdvisor,
    abtests: ABTests,
    segments: Segments,
    sensitivity: SensitivityPolicy,
) -> Decider:
    """The decider configured from ``settings``.

    Raises ``ValueError`` for an unknown policy, bad policy options or bad scoring weights.
    """
    options = {
        name: tuple(value) if isinstance(value, list) else value
        for name, value in settings.decision_policy_options.items()
    }
    policy = make_policy(settings.decision_policy, create_rng(settings.decision_seed), **options)
    parts = DeciderParts(
        pool,
        store,
        renderer=renderer,
        policy=policy,
        features=FeatureIndex(intent.encoder if intent is not None else None),
        ranker=Ranker(ScoringWeights.from_mapping(settings.scoring_weights)),
        situation_reader=situation_reader,
        intent=intent,
        profiles=profiles,
        holdout=Holdout(settings.holdout_share, settings.holdout_salt),
        next_action=next_action,  # /v1/decide answers with the immediate next action
        abtests=abtests,  # a running test owns its slot
        segments=segments,  # content audiences may name segments
        sensitivity=sensitivity,  # sensitive interests are never rendered
        visit=VisitMemory(store),  # the third page of a visit knows what the first two were about
    )
    return Decider(
        parts,
        DeciderOptions(
            default_language=default_language(settings),
            min_intent_confidence=settings.min_intent_confidence,
            decision_ttl=timedelta(hours=settings.decision_ttl_hours),
            pool_refresh=(
                timedelta(seconds=settings.content_refresh_seconds)
                if settings.content_refresh_seconds > 0
                else None
            ),
        ),
    )
