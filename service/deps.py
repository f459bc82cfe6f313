"""Typed access to what the lifespan built, for route handlers (``Annotated`` dependencies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from personalization.store.memory_store import MemoryStore
from personalization.store.redis_store import RedisStore
from service.auth import Role, require_admin, require_site
from service.observability import Metrics
from service.settings import Settings

Store = MemoryStore | RedisStore


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


async def get_store(request: Request) -> Store:
    store: Store = request.state.store
    return store


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SiteRole = Annotated[Role, Depends(require_site)]
AdminRole = Annotated[Role, Depends(require_admin)]
