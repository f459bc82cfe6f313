"""The lifecycle sweep: time alone changes a person's stage, so every profile is looked at again.

Ninety days without an order make a customer ``at_risk`` although nothing happened; that is the
moment the reactivation programme exists for. Events re-evaluate a profile as they arrive; the
sweep re-evaluates the rest (:meth:`ProfileService.refresh`), so the listeners (automation) hear
of transitions that came with the passing of time. One process sweeps per interval: a lock
(a Redis key with a time-out, shared by all replicas) decides which.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Protocol

from personalization.errors import STORE_ERRORS, PersonalizationError

_SWEEP_ERRORS: tuple[type[Exception], ...] = (PersonalizationError, *STORE_ERRORS)

log = logging.getLogger("kairos.sweep")


class Refresher(Protocol):
    async def refresh(self, profile_ids: list[str]) -> Sequence[object]: ...


class LifecycleSweep:
    """Refresh every profile in batches, at most once per ``every`` across all processes."""

    def __init__(
        self,
        profiles: Refresher,
        profile_ids: Callable[[], AsyncIterator[str]],
        *,
        every: timedelta,
        acquire: Callable[[timedelta], Awaitable[bool]] | None = None,
        batch_size: int = 200,
    ) -> None:
        assert batch_size > 0, "batch_size must be positive"
        self.profiles = profiles
        self.profile_ids = profile_ids
        self.every = every
        self.acquire = acquire
        self.batch_size = batch_size
        self.swept = 0

    async def run_once(self) -> int:
        """Refresh every stored profile now; returns how many were looked at."""
        count, batch = 0, []
        async for profile_id in self.profile_ids():
            batch.append(profile_id)
            if len(batch) == self.batch_size:
                await self.profiles.refresh(batch)
                count += len(batch)
                batch = []
        if batch:
            await self.profiles.refresh(batch)
            count += len(batch)
        self.swept += count
        return count

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep whenever this process holds the interval's lock, until ``stop`` is set."""
        while not stop.is_set():
            try:
                if self.acquire is None or await self.acquire(self.every):
                    looked_at = await self.run_once()
                    log.info("lifecycle sweep", extra={"profiles": looked_at})
            except _SWEEP_ERRORS as exc:  # the store may be away: next time
                log.warning("lifecycle sweep failed: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.every.total_seconds())
            except TimeoutError:
                pass
