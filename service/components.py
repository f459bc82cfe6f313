"""The composition root: every component of Kairos, built once, in dependency order.

:func:`build_components` opens the backend (:mod:`service.backend`) and builds each component
with its collaborators passed to its constructor, returning them as one frozen
:class:`Components`. The app's lifespan yields it (handlers reach the parts through
:mod:`service.deps`); ``kairos worker`` builds the same object without starting the HTTP app.
:meth:`Components.aclose` stops what was started (lifecycle sweep, in-app worker, intent model,
store).

The order, each step using only what came before::

    backend -> sensitivity, definitions, segments, A/B tests, link signer
            -> content store, renderer, pool, situation reader, intent model
            -> planner, scheduler, automation, schedules
            -> profile service (listeners: automation, A/B goals, schedules)
            -> decider -> readiness -> background tasks (sweep, in-app worker)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from content_pool.errors import ContentError
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import ContentStore, import_items
from content_pool.yaml_io import load_dir
from intent.encoder import build_encoder
from intent.interest import DEFAULT_TAXONOMY, InterestReader, load_taxonomy
from intent.service import IntentService
from intent.situation.reader import SituationReader
from personalization.automation.engine import Automation
from personalization.automation.next_action import NextActionPlanner, QuietHours
from personalization.automation.programmes import ProgrammeSet, load_programmes
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
from personalization.experiments.definitions import DefinitionStore
from personalization.experiments.segments import ProfileSampler, Segments
from personalization.profiles.affinity import AffinityPolicy
from personalization.profiles.events import Purpose
from personalization.profiles.lifecycle import LifecyclePolicy
from personalization.profiles.profile import ProfilePolicy
from personalization.profiles.sensitivity import DEFAULT_SENSITIVE_CATEGORIES, SensitivityPolicy
from personalization.profiles.service import EventListener, ProfileService
from personalization.profiles.sweep import LifecycleSweep
from service.backend import Backend, Scheduler, Store, open_backend
from service.programmes import stored_programmes
from service.ratelimit import WindowCounter
from service.readiness import Readiness
from service.settings import Settings
from service.worker import Worker, build_reactions, build_webhook

log = logging.getLogger("kairos.components")


@dataclass(frozen=True)
class Running:
    """A background task started by the root, and how to stop it."""

    name: str
    stop: asyncio.Event
    task: asyncio.Task[None]
    after: Callable[[], Awaitable[None]] | None = None
    """Called once the task has returned (e.g. close the worker's webhook client)."""

    async def aclose(self) -> None:
        self.stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        if self.after is not None:
            await self.after()


@dataclass(frozen=True)
class Components:
    """Everything the app, the worker and the console use; built by :func:`build_components`."""

    settings: Settings
    backend: Backend
    readiness: Readiness
    window_counter: WindowCounter
    # integration
    sensitivity: SensitivityPolicy
    definitions: DefinitionStore
    segments: Segments
    profile_sampler: ProfileSampler
    abtests: ABTests
    link_signer: LinkSigner | None
    # content and context
    content_store: ContentStore
    content_renderer: Renderer
    content_pool: ContentPool
    situation_reader: SituationReader
    intent_service: IntentService | None
    # automation
    next_action_planner: NextActionPlanner
    scheduler: Scheduler
    automation: Automation
    schedules: Schedules | None
    # people and decisions
    profiles: ProfileService
    decider: Decider
    background: tuple[Running, ...] = ()

    @property
    def store(self) -> Store:
        return self.backend.store

    async def aclose(self) -> None:
        """Stop the background tasks (the worker after its batch in hand), the intent model's
        training, and the store's connections."""
        for running in self.background:  # the sweep, then the worker after its batch in hand
            await running.aclose()
        if self.intent_service is not None:
            self.intent_service.close()
        await self.backend.aclose()


# -- the parts, each from settings and what it needs -----------------------------------------------
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
) -> ProfileService:
    """The profile service; with ``KAIROS_REACTIONS_IN_WORKER`` it leaves changes in a feed
    for ``kairos worker`` instead of running ``listeners`` inline."""
    lease = timedelta(seconds=settings.action_lease_seconds)
    changes = backend.change_feed(lease=lease) if settings.reactions_in_worker else None
    return ProfileService(backend.store, clock=system_clock, policy=profile_policy(settings),
                          listeners=listeners, erasers=erasers,
                          max_carried_events=settings.max_events_per_profile, changes=changes)


async def intent_service(settings: Settings) -> IntentService | None:
    """The intent model behind ``/v1/intent``, chat and decisions (``None`` when turned off).

    Loads the saved model whose training data matches, else trains one (seconds) and saves it;
    both run in a thread so the event loop stays free.
    """
    if settings.intent_encoder is None:
        return None
    encoder = await asyncio.to_thread(build_encoder, settings.intent_encoder)
    return await asyncio.to_thread(
        IntentService.load_or_train, encoder=encoder, model_dir=settings.intent_model_dir,
        data_path=settings.intent_data,
    )  # fmt: skip


async def _content_store(settings: Settings, backend: Backend, renderer: Renderer) -> ContentStore:
    """The content store; an empty one is filled from ``settings.content_dir``."""
    store = backend.content_store()
    if settings.content_dir is not None:
        drafts = load_dir(settings.content_dir)
        renderer.validate_all(drafts)  # a broken bundled pool is a bug: fail the start
        try:
            if not await store.all():
                await import_items(store, drafts)
        except (ContentError, OSError) as exc:
            log.warning("content not loaded at start: %s", exc)
    return store


def _default_language(settings: Settings) -> str:
    return settings.languages[0] if settings.languages else "de"


def _planner(settings: Settings, pool: ContentPool, store: Store,
             sensitivity: SensitivityPolicy) -> NextActionPlanner:  # fmt: skip
    programmes = (load_programmes(settings.programmes_file) if settings.programmes_file
                  else load_programmes())  # fmt: skip
    return NextActionPlanner(
        programmes,
        pool=pool,
        caps=store,
        quiet_hours=QuietHours(start=settings.quiet_hours_start, end=settings.quiet_hours_end),
        weekly_cap=settings.weekly_contact_cap,
        default_timezone=settings.default_timezone,
        default_language=_default_language(settings),
        sensitivity=sensitivity,
    )


def _schedules(settings: Settings, planner: NextActionPlanner, scheduler: Scheduler,
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
            default_language=_default_language(settings),
            min_intent_confidence=settings.min_intent_confidence,
            decision_ttl=timedelta(hours=settings.decision_ttl_hours),
            pool_refresh=(
                timedelta(seconds=settings.content_refresh_seconds)
                if settings.content_refresh_seconds > 0
                else None
            ),
        ),
    )


def _readiness(store: Store, decider: Decider) -> Readiness:
    readiness = Readiness()

    async def store_reachable() -> str | None:
        await store.ping()
        return None

    async def content_fresh() -> str | None:
        # An empty pool is a valid state (slots answer empty); a pool that stopped refreshing
        # is not: this worker would serve edits of long ago.
        every = decider.options.pool_refresh
        age = decider.pool_age(system_clock())
        if every is not None and (age is None or age > 10 * every):
            return f"content pool not refreshed for {age}"
        return None

    readiness.add("store", store_reachable)
    readiness.add("content", content_fresh)
    return readiness


def _start(name: str, run: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
           after: Callable[[], Awaitable[None]] | None = None) -> Running:  # fmt: skip
    stop = asyncio.Event()
    return Running(name, stop, asyncio.create_task(run(stop)), after)


def _background(settings: Settings, backend: Backend, profiles: ProfileService,
                scheduler: Scheduler) -> tuple[Running, ...]:  # fmt: skip
    """The lifecycle sweep and the in-app worker, when ``settings`` ask for them."""
    running: list[Running] = []
    if settings.lifecycle_sweep_minutes > 0:
        sweep = LifecycleSweep(
            profiles, backend.store.scan_profile_ids,
            every=timedelta(minutes=settings.lifecycle_sweep_minutes),
            acquire=backend.lock("lifecycle-sweep"),
        )  # fmt: skip
        running.append(_start("lifecycle-sweep", sweep.run))
    in_app = settings.worker_in_app
    if in_app is None:  # without a shared store nobody else would publish the due steps
        in_app = not backend.shared
    if in_app:
        webhook = build_webhook(settings)
        worker = Worker(scheduler, batch_size=settings.worker_batch_size,
                        poll_interval=settings.worker_poll_seconds, webhook=webhook,
                        name="in-app", reactions=build_reactions(
                            profiles, name="in-app", batch_size=settings.worker_batch_size))
        running.append(_start("in-app worker", worker.run,
                              webhook.aclose if webhook is not None else None))
    return tuple(running)


# -- the root ------------------------------------------------------------------------------------
async def build_components(settings: Settings) -> Components:
    """Open the backend and build every component for ``settings``; start the background tasks
    they ask for. Call :meth:`Components.aclose` when done.

    Raises ``ValueError`` for bad decision settings and whatever loading the bundled content or
    the intent model raises; a store that cannot be reached yet is only logged (``/readyz``
    says so until it comes back).
    """
    backend = open_backend(settings)
    try:
        return await _build(settings, backend)
    except BaseException:
        await backend.aclose()
        raise


async def _build(settings: Settings, backend: Backend) -> Components:
    store = backend.store
    refresh = timedelta(seconds=settings.definitions_refresh_seconds)
    lease = timedelta(seconds=settings.action_lease_seconds)

    sensitivity = sensitivity_policy(settings)
    definitions = backend.definitions()
    segments = Segments(definitions, sensitivity=sensitivity, refresh=refresh)
    abtests = ABTests(definitions, counters=store, records=store, refresh=refresh)
    signer = link_signer(settings)
    if signer is None:
        log.info("no KAIROS_LINK_SECRET: newsletter link tokens are off")

    renderer = Renderer()
    content_store = await _content_store(settings, backend, renderer)
    pool = ContentPool(content_store)
    intent = await intent_service(settings)
    taxonomy = load_taxonomy(settings.taxonomy_file or DEFAULT_TAXONOMY)
    situation_reader = SituationReader(
        internal_hosts=settings.internal_hosts, languages=settings.languages,
        default_timezone=settings.default_timezone,
        interests=InterestReader(taxonomy, encoder=intent.encoder if intent else None),
    )  # fmt: skip

    planner = _planner(settings, pool, store, sensitivity)
    scheduler = backend.scheduler(lease=lease)

    async def programmes_source() -> ProgrammeSet | None:
        return await stored_programmes(backend)

    automation = Automation(planner, scheduler, clock=system_clock,
                            programmes_source=programmes_source)  # fmt: skip
    stored = await stored_programmes(backend)
    if stored is not None:
        automation.replace(stored)
    schedules = _schedules(settings, planner, scheduler, sensitivity, segments)

    # Listeners in this order: the automation plans, A/B tests count goals (a purchase is a
    # conversion), calendar schedules plan their dates.
    listeners: tuple[EventListener, ...] = (automation, abtests) + (
        (schedules,) if schedules is not None else ())
    profiles = profile_service(settings, backend, listeners=listeners,
                               erasers=(scheduler.erase_person,))  # fmt: skip

    the_decider = decider(
        settings, store, pool, renderer,
        situation_reader=situation_reader,
        intent=intent,
        profiles=ConsentedProfiles(profiles, clock=system_clock, sensitivity=sensitivity),
        next_action=PlannerAdvisor(planner, profiles),
        abtests=abtests, segments=segments, sensitivity=sensitivity,
    )  # fmt: skip
    try:
        await the_decider.refresh_pool(system_clock())
    except (ContentError, OSError) as exc:  # the store may come back; decide() retries
        log.warning("content pool not loaded at start: %s", exc)

    return Components(
        settings=settings,
        backend=backend,
        readiness=_readiness(store, the_decider),
        window_counter=backend.window_counter(),
        sensitivity=sensitivity,
        definitions=definitions,
        segments=segments,
        profile_sampler=backend.profile_sampler(),
        abtests=abtests,
        link_signer=signer,
        content_store=content_store,
        content_renderer=renderer,
        content_pool=pool,
        situation_reader=situation_reader,
        intent_service=intent,
        next_action_planner=planner,
        scheduler=scheduler,
        automation=automation,
        schedules=schedules,
        profiles=profiles,
        decider=the_decider,
        background=_background(settings, backend, profiles, scheduler),
    )
