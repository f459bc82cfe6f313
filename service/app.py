"""The app factory and its lifespan.

Everything that connects or loads is built by the composition root (:mod:`service.components`)
when the lifespan starts, yielded as ``{"components": Components}`` and stopped when it ends.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from personalization.profiles.signed_identity import IdentityVerifier
from service import problems
from service.auth import (
    IDENTITY_HEADER,
    ApiKeys,
    NoGrantForRefusedOrigins,
    Site,
    Sites,
    get_caller,
    require_admin,
)
from service.components import Components, build_components
from service.console import docs_pages
from service.console.mount import install as install_console
from service.limits import BodyLimitMiddleware
from service.observability import Metrics, RequestContextMiddleware, configure_logging
from service.ratelimit import RateLimitMiddleware, WindowCounter
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
from service.routes import taxonomy as taxonomy_routes
from service.settings import Settings

log = logging.getLogger("kairos.app")

SITE = [Depends(get_caller)]  # any key; a site key only from its pages, identities verified
ADMIN = [Depends(require_admin)]


def _api_keys(settings: Settings) -> ApiKeys:
    """The configured keys; in development the missing ones are generated (and logged)."""
    configured = (settings.site_key, settings.admin_key, settings.server_key)
    more = tuple(site.key.get_secret_value() for site in settings.sites)
    if all(k is not None for k in configured):
        site, admin, server = (k.get_secret_value() for k in configured if k is not None)
        return ApiKeys(site, admin, server, more)
    generated = ApiKeys.generate()
    keys = ApiKeys(
        settings.site_key.get_secret_value() if settings.site_key else generated.site,
        settings.admin_key.get_secret_value() if settings.admin_key else generated.admin,
        settings.server_key.get_secret_value() if settings.server_key else generated.server,
        more,
    )
    log.warning("development API keys generated", extra={
        "site_key": keys.site, "server_key": keys.server, "admin_key": keys.admin})
    return keys


def _identity_secrets(settings: Settings) -> list[bytes]:
    """The identity secrets, current first; in development a missing one is generated."""
    previous = [s.get_secret_value().encode() for s in settings.identity_previous_secrets]
    if settings.identity_secret is not None:
        return [settings.identity_secret.get_secret_value().encode(), *previous]
    log.warning("development identity secret generated: tokens signed elsewhere are refused "
                "(set KAIROS_IDENTITY_SECRET)")
    return [secrets.token_urlsafe(32).encode(), *previous]


def _sites(settings: Settings) -> Sites:
    """The websites: ``KAIROS_SITE_KEY``'s and those of ``KAIROS_SITES``, each with its
    identity verifier and (once there are several) the origins its key works from."""
    lifetime = settings.identity_max_lifetime_hours * 3600
    default = Site(
        IdentityVerifier(_identity_secrets(settings), max_lifetime=lifetime),
        frozenset(settings.default_site_origins)
        if settings.sites and settings.site_origins is not None else None,
    )
    more = {
        site.key.get_secret_value(): Site(
            IdentityVerifier([site.identity_secret.get_secret_value().encode()],
                             max_lifetime=lifetime),
            frozenset(site.origins))
        for site in settings.sites
    }
    return Sites(default, more)


def _include_routers(app: FastAPI, settings: Settings) -> None:
    """Public routes take the site key (or the admin key); marketer routes the admin key."""
    app.include_router(health.router)
    app.include_router(docs_pages.router)
    for public in (situation_routes.router, intent_routes.router, event_routes.router,
                   decision_routes.router, blocks.router, chat.router):
        app.include_router(public, dependencies=SITE)
    for admin in (profile_routes.router, content_routes.router, decision_routes.admin_router,
                  action_routes.router, import_routes.router, link_routes.router,
                  segment_routes.router, abtest_routes.router, taxonomy_routes.router):
        app.include_router(admin, dependencies=ADMIN)
    app.include_router(intent_routes.admin_router, dependencies=ADMIN)
    app.include_router(demo.router)
    install_console(app, settings)
    app.mount("/static", StaticFiles(packages=[("service", "static")]), name="static")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the Kairos app. ``settings`` defaults to the environment (``KAIROS_*``)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    metrics = Metrics()
    limiter_box: dict[str, WindowCounter] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Components]]:
        components = await build_components(settings)
        limiter_box["counter"] = components.window_counter
        log.info("kairos started", extra={"store": type(components.store).__name__,
                                          "intent": components.intent_service is not None})
        try:
            yield {"components": components}
        finally:
            await components.aclose()

    app = FastAPI(
        title="Kairos",
        summary="Situational marketing in real time: the right content and next step, now.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # served from vendored assets: service/console/docs_pages.py
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.api_keys = keys = _api_keys(settings)
    app.state.sites = _sites(settings)
    app.state.identity_verifier = app.state.sites.default.verifier
    problems.install(app)
    _include_routers(app, settings)

    # Outermost last: request id and timing see everything, then CORS, limits, the UA filler.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       exempt_prefixes=("/v1/imports/",))
    app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute,
                       site_per_minute=settings.site_rate_limit_per_minute, role_of=keys.role_of,
                       counter=lambda: limiter_box.get("counter"))
    app.add_middleware(
        CORSMiddleware, allow_origins=settings.allowed_origins, allow_methods=["GET", "POST"],
        allow_headers=["X-API-Key", "Content-Type", "X-Request-ID", IDENTITY_HEADER],
        expose_headers=["X-Request-ID", "X-Kairos-Decision", "X-Kairos-Item"],
    )
    app.add_middleware(NoGrantForRefusedOrigins)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


def _version() -> str:
    return version("kairos")
