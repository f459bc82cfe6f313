"""Programmes shared by every process through the backend (with Redis, ``<prefix>:programmes``).

Every app process reads the stored set at start, on ``GET /v1/programmes`` and at most every 30
seconds while events arrive; ``PUT /v1/programmes`` and ``kairos automation import`` write it.
The in-process backend stores nothing: the process's own set is the only one.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from personalization.automation.programmes import (
    ProgrammeSet,
    dumps_programmes,
    load_programmes,
    loads_programmes,
)
from personalization.errors import InvalidProgramme
from service.backend import Backend, open_backend
from service.settings import Settings

log = logging.getLogger("kairos.automation")


async def stored_programmes(backend: Backend) -> ProgrammeSet | None:
    """The set another process stored, or ``None`` (none stored, unreadable, or unreachable)."""
    try:
        raw = await backend.stored_programmes()
    except (RedisError, OSError) as exc:  # Redis may come back; the configured set serves now
        log.warning("stored programmes not read: %s", exc)
        return None
    if raw is None:
        return None
    try:
        return loads_programmes(raw)
    except InvalidProgramme as exc:  # written by an older version: keep the configured ones
        log.warning("stored programmes ignored: %s", exc)
        return None


async def store_programmes(backend: Backend, programmes: ProgrammeSet) -> None:
    """Store ``programmes`` for every process sharing ``backend``."""
    await backend.store_programmes(dumps_programmes(programmes))


async def import_programmes_file(settings: Settings, path: str) -> ProgrammeSet:
    """``kairos automation import FILE``: validate, and store for every process when Redis is
    configured (running apps pick the set up on their next ``GET /v1/programmes`` or start).
    Raises :class:`InvalidProgramme`."""
    programmes = load_programmes(path)
    if settings.redis_url is not None:
        backend = open_backend(settings)
        try:
            await store_programmes(backend, programmes)
        finally:
            await backend.aclose()
    return programmes
