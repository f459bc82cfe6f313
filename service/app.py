"""The app factory and its lifespan: everything that connects or loads is built here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from personalization.memory_store import MemoryStore
from personalization.redis_store import RedisStore, connect
from service import problems
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
from service.routes import events, health, profiles
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
        # --- components: each adds what it built to ``state`` (and a readiness check) ---
        state["profiles"] = profiles.build_profile_service(settings, store)
        from service.routes import decisions as decision_routes

        await decision_routes.start(settings, state)  # content pool, renderer, decider
        from service.routes import actions as action_routes

        await action_routes.start(settings, state)  # next-action planner, scheduler, automation
        from service import integration

        # links, segments, A/B tests, sensitivity (in the decider), schedules (a listener)
        await integration.start(settings, state)
        log.info("kairos started", extra={"store": type(store).__name__})
        try:
            yield state
        finally:
            from service.routes import actions as action_routes

            await action_routes.stop(state)  # the in-app worker finishes its batch first
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
    # --- routers: public ones with SITE, marketer/admin ones with ADMIN ---
    app.include_router(health.router)
    from service.routes import situation as situation_routes

    app.include_router(situation_routes.router, dependencies=SITE)
    app.include_router(events.router, dependencies=SITE)
    app.include_router(profiles.router, dependencies=ADMIN)
    from service.routes import content as content_routes
    from service.routes import decisions as decision_routes

    for error, (code, title) in content_routes.CONTENT_PROBLEMS.items():
        problems.register(error, code, title)
    app.include_router(content_routes.router, dependencies=ADMIN)
    app.include_router(decision_routes.router, dependencies=SITE)
    app.include_router(decision_routes.admin_router, dependencies=ADMIN)
    from service.routes import actions as action_routes

    for automation_error, (status, title) in action_routes.ACTIONS_PROBLEMS.items():
        problems.register(automation_error, status, title)
    app.include_router(action_routes.router, dependencies=ADMIN)
    from service.routes import abtests as abtest_routes
    from service.routes import imports as import_routes
    from service.routes import links as link_routes
    from service.routes import segments as segment_routes

    for integration_problems in (link_routes.LINK_PROBLEMS, segment_routes.SEGMENT_PROBLEMS,
                                 abtest_routes.ABTEST_PROBLEMS):
        for integration_error, (status, title) in integration_problems.items():
            problems.register(integration_error, status, title)
    for integration_router in (import_routes.router, link_routes.router, segment_routes.router,
                               abtest_routes.router):
        app.include_router(integration_router, dependencies=ADMIN)
    # Surfaces: website snippet and demo, ESI blocks, marketer console, static files
    from fastapi.staticfiles import StaticFiles

    from service import console
    from service.routes import blocks, chat, demo

    app.include_router(blocks.router, dependencies=SITE)
    app.include_router(chat.router, dependencies=SITE)
    app.include_router(demo.router)
    app.add_middleware(blocks.DecideUserAgentMiddleware)
    console.web.install(app, settings)
    app.mount("/static", StaticFiles(packages=[("service", "static")]), name="static")

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
