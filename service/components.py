"""The composition root: every component of Kairos, built once, in dependency order.

:func:`build_components` opens the backend (:mod:`service.backend`) and builds each component
with its collaborators passed to its constructor, returning them as one frozen
:class:`Components`. The app's lifespan yields it (handlers reach the parts through
:mod:`service.deps`); ``kairos worker`` builds the same object without starting the HTTP app.
:meth:`Components.aclose` stops what was started (lifecycle sweep, in-app worker, intent model,
store).

The order, each step using only what came before::

    backend -> sensitivity, definitions, segments, A/B tests, link signer
            -> content store, renderer, pool, intent model, taxonomy (shared), situation reader
            -> planner, scheduler, automation, schedules
            -> profile service (listeners: automation, A/B goals, schedules)
            -> decider -> readiness -> background tasks (sweep, in-app worker, taxonomy reload)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from content_pool.errors import ContentError
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import ContentStore
from intent.interest import DEFAULT_TAXONOMY, InterestReader, load_taxonomy
from intent.interest.shared_taxonomy import SharedTaxonomy
from intent.service import IntentService
from intent.situation.reader import SituationReader
from personalization.automation.engine import Automation
from personalization.automation.next_action import NextActionPlanner
from personalization.automation.programmes import ProgrammeSet
from personalization.automation.schedules import Schedules
from personalization.clock import system_clock
from personalization.decisions.decider import (
    ConsentedProfiles,
    Decider,
    PlannerAdvisor,
)
from personalization.decisions.links import LinkSigner
from personalization.experiments.abtests import ABTests
from personalization.experiments.definitions import DefinitionStore
from personalization.experiments.segments import ProfileSampler, Segments
from personalization.profiles.sensitivity import SensitivityPolicy
from personalization.profiles.service import EventListener, ProfileService
from personalization.profiles.sweep import LifecycleSweep
from service.backend import Backend, Deliveries, Scheduler, Store, open_backend
from service.factories import (
    build_content_store,
    build_planner,
    build_schedules,
    decider,
    intent_service,
    link_signer,
    profile_service,
    sensitivity_policy,
)
from service.programmes import stored_programmes
from service.ratelimit import WindowCounter
from service.readiness import Readiness
from service.settings import Settings
from service.worker import Worker, build_reactions, build_webhook, retry_policy

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
    taxonomy: SharedTaxonomy
    situation_reader: SituationReader
    intent_service: IntentService | None
    # automation
    next_action_planner: NextActionPlanner
    scheduler: Scheduler
    deliveries: Deliveries
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


def _category_usage(content_store: ContentStore) -> Callable[[], Awaitable[dict[str, list[str]]]]:
    """Which live items name each category (a category they name cannot be removed)."""

    async def usage() -> dict[str, list[str]]:
        named: dict[str, list[str]] = {}
        for item in await content_store.all():
            if item.status == "live":
                for category in item.targeting.categories:
                    named.setdefault(category, []).append(item.id)
        return named

    return usage


def _background(settings: Settings, backend: Backend, profiles: ProfileService,
                scheduler: Scheduler, deliveries: Deliveries,
                taxonomy: SharedTaxonomy) -> tuple[Running, ...]:  # fmt: skip
    """The lifecycle sweep and the in-app worker, when ``settings`` ask for them; with a shared
    store, the reload of the taxonomy other workers may replace."""
    running: list[Running] = []
    every = settings.definitions_refresh_seconds
    if backend.shared and every > 0:

        async def reload(stop: asyncio.Event) -> None:
            await taxonomy.run(stop, every)

        running.append(_start("taxonomy reload", reload))
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
                        deliveries=deliveries, name="in-app", reactions=build_reactions(
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
    abtests = ABTests(definitions, counters=store, records=store, refresh=refresh)
    signer = link_signer(settings)
    if signer is None:
        log.info("no KAIROS_LINK_SECRET: newsletter link tokens are off")

    renderer = Renderer()
    seed = load_taxonomy(settings.taxonomy_file or DEFAULT_TAXONOMY)
    content_store = await build_content_store(settings, backend, renderer, seed.ids)
    pool = ContentPool(content_store)
    intent = await intent_service(settings)
    # One reader for the interest of the moment (decisions) and the topics of events (profiles);
    # the shared taxonomy swaps a replaced one into it.
    interests = InterestReader(seed, encoder=intent.encoder if intent else None)
    situation_reader = SituationReader(
        internal_hosts=settings.internal_hosts, languages=settings.languages,
        default_timezone=settings.default_timezone, interests=interests,
    )  # fmt: skip
    taxonomy = SharedTaxonomy(definitions, seed, readers=[interests],
                              usage=_category_usage(content_store))  # fmt: skip
    try:
        await taxonomy.load()
    except OSError as exc:  # the store may come back; the refresh task retries
        log.warning("taxonomy not loaded from the store at start: %s", exc)
    segments = Segments(definitions, sensitivity=sensitivity, refresh=refresh,
                        known_topics=taxonomy.known)  # fmt: skip

    planner = build_planner(settings, pool, store, sensitivity)
    scheduler = backend.scheduler(lease=lease)
    deliveries = backend.deliveries(scheduler, policy=retry_policy(settings),
                                    lease=timedelta(seconds=settings.webhook_lease_seconds))

    async def programmes_source() -> ProgrammeSet | None:
        return await stored_programmes(backend)

    automation = Automation(planner, scheduler, clock=system_clock,
                            programmes_source=programmes_source)  # fmt: skip
    stored = await stored_programmes(backend)
    if stored is not None:
        automation.replace(stored)
    schedules = build_schedules(settings, planner, scheduler, sensitivity, segments)

    # Listeners in this order: the automation plans, A/B tests count goals (a purchase is a
    # conversion), calendar schedules plan their dates.
    listeners: tuple[EventListener, ...] = (automation, abtests) + (
        (schedules,) if schedules is not None else ())
    profiles = profile_service(settings, backend, listeners=listeners,
                               erasers=(scheduler.erase_person, deliveries.forget),
                               interests=interests)  # fmt: skip

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
        taxonomy=taxonomy,
        situation_reader=situation_reader,
        intent_service=intent,
        next_action_planner=planner,
        scheduler=scheduler,
        deliveries=deliveries,
        automation=automation,
        schedules=schedules,
        profiles=profiles,
        decider=the_decider,
        background=_background(settings, backend, profiles, scheduler, deliveries, taxonomy),
    )
