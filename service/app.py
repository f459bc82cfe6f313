"""The app factory and its lifespan: everything that connects or loads is built here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from intent.encoder import build_encoder
from intent.service import IntentService
from personalization.profiles.sweep import LifecycleSweep
from personalization.store.memory_store import MemoryStore
from personalization.store.redis_store import RedisStore, connect
from service import console, integration, problems
from service.auth import ApiKeys, require_admin, require_site
from service.limits import BodyLimitMiddleware
from service.observability import Metrics, RequestContextMiddleware, configure_logging
from service.ratelimit import (
    MemoryWindowCounter,
    RateLimitMiddleware,
    RedisWindowCounter,
    WindowCounter,
)
from service.readiness import Readiness
from service.routes import abtests as abtest_routes
from service.routes import actions as action_routes
from service.routes import blocks, chat, demo, health
from service.routes import content as content_routes
from service.routes import decisions as decision_routes
from service.routes import events as event_routes
from service.routes import imports as import_routes
from service.routes import intents as intent_routes
from service.routes import links as link_routes
from service.routes import profiles as profile_routes
from service.routes import segments as segment_routes
from service.routes import situation as situation_routes
from service.settings import Settings

log = logging.getLogger("kairos.app")

SITE = [Depends(require_site)]
ADMIN = [Depends(require_admin)]


def _api_keys(settings: Settings) -> ApiKeys:
    if settings.site_key is not None and settings.admin_key is not None:
        return ApiKeys(settings.site_key.get_secret_value(), settings.admin_key.get_secret_value())
    generated = ApiKeys.generate()
    keys = ApiKeys(
        settings.site_key.get_secret_value() if settings.site_key else generated.site,
        settings.admin_key.get_secret_value() if settings.admin_key else generated.admin,
    )
    log.warning("development API keys generated", extra={"site_key": keys.site,
                                                         "admin_key": keys.admin})
    return keys


def build_store(settings: Settings) -> MemoryStore | RedisStore:
    """The configured store: Redis (or Redis Cluster) when a URL is set, else in-process."""
    options: dict[str, Any] = {
        "profile_ttl": timedelta(days=settings.profile_ttl_days),
        "max_events_per_profile": settings.max_events_per_profile,
    }
    if settings.redis_url is None:
        return MemoryStore(**options)
    client = connect(settings.redis_url, cluster=settings.redis_cluster,
                     timeout=settings.redis_timeout_seconds)
    return RedisStore(client, prefix=settings.redis_prefix, **options)


async def build_intent_service(settings: Settings) -> IntentService | None:
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


async def start_components(settings: Settings, state: dict[str, Any]) -> None:
    """Build the domain components into ``state``; the order matters (each uses the former)."""
    store = state["store"]
    state["profiles"] = profile_routes.build_profile_service(settings, store)
    intent_service = await build_intent_service(settings)
    if intent_service is not None:
        state["intent_service"] = intent_service
    await decision_routes.start(settings, state)  # content pool, renderer, situation, decider
    await action_routes.start(settings, state)  # next-action planner, scheduler, automation
    # links, segments, A/B tests, sensitivity (in the decider), schedules (a listener)
    await integration.start(settings, state)
    if settings.lifecycle_sweep_minutes > 0:
        sweep = LifecycleSweep(
            state["profiles"], store.scan_profile_ids,
            every=timedelta(minutes=settings.lifecycle_sweep_minutes),
            acquire=(lambda ttl: store.try_lock("lifecycle-sweep", ttl))
            if isinstance(store, RedisStore) else None,
        )  # fmt: skip
        stop = asyncio.Event()
        state["lifecycle_sweep"] = (sweep, stop, asyncio.create_task(sweep.run(stop)))


def _include_routers(app: FastAPI, settings: Settings) -> None:
    """Public routes take the site key (or the admin key); marketer routes the admin key."""
    app.include_router(health.router)
    for public in (situation_routes.router, intent_routes.router, event_routes.router,
                   decision_routes.router, blocks.router, chat.router):
        app.include_router(public, dependencies=SITE)
    for admin in (profile_routes.router, content_routes.router, decision_routes.admin_router,
                  action_routes.router, import_routes.router, link_routes.router,
                  segment_routes.router, abtest_routes.router):
        app.include_router(admin, dependencies=ADMIN)
    app.include_router(intent_routes.admin_router, dependencies=ADMIN)
    app.include_router(demo.router)
    console.web.install(app, settings)
    app.mount("/static", StaticFiles(packages=[("service", "static")]), name="static")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the Kairos app. ``settings`` defaults to the environment (``KAIROS_*``)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    metrics = Metrics()
    limiter_box: dict[str, WindowCounter] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        store = build_store(settings)
        readiness = Readiness()

        async def store_reachable() -> str | None:
            await store.ping()
            return None

        readiness.add("store", store_reachable)
        limiter_box["counter"] = (
            RedisWindowCounter(store.redis, settings.redis_prefix)
            if isinstance(store, RedisStore) else MemoryWindowCounter()
        )
        state: dict[str, Any] = {
            "settings": settings,
            "metrics": metrics,
            "store": store,
            "readiness": readiness,
        }
        await start_components(settings, state)
        log.info("kairos started", extra={"store": type(store).__name__,
                                          "intent": "intent_service" in state})
        try:
            yield state
        finally:
            if "lifecycle_sweep" in state:
                _, stop_sweep, sweeping = state["lifecycle_sweep"]
                stop_sweep.set()
                await sweeping
            await action_routes.stop(state)  # the in-app worker finishes its batch first
            if "intent_service" in state:
                state["intent_service"].close()
            await store.close()

    app = FastAPI(
        title="Kairos",
        summary="Situational marketing in real time: the right content and next step, now.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.api_keys = _api_keys(settings)
    problems.install(app)
    _include_routers(app, settings)

    # Outermost last: request id and timing see everything, then CORS, limits, the UA filler.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       exempt_prefixes=("/v1/imports/",))
    app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute,
                       counter=lambda: limiter_box.get("counter"))
    app.add_middleware(
        CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
        allow_headers=["X-API-Key", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID"],
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


def _version() -> str:
    from importlib.metadata import version

    return version("kairos")
