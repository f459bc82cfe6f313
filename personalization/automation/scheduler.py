"""Delayed steps: scheduled in the store, claimed once by any of several workers, published.

A scheduled step has two halves. Its body, an :class:`ActionRecord`, is a record of the person's
``actions`` part (``<prefix>:{p:<id>}:actions``), so it is erased with the person and shown by
``GET /v1/profiles/{id}/actions``. The schedule itself keeps only ``<action_id>:<profile_id>``
members, scored by due time (ms), in a sorted set that belongs to no person.

Claiming (:meth:`Scheduler.claim`) moves due members, atomically, from the schedule to a
*processing* set scored by a lease deadline, and returns them with that deadline as a token.
:meth:`Scheduler.publish` then appends each to the ``actions`` stream and removes it from the
processing set in one atomic step that first checks the token is still the claimer's, so every
due step reaches the stream exactly once, whatever the number of workers. A worker that dies
after claiming loses nothing: once the lease has passed, the next claim takes those members again.

Redis layout (single Redis and Redis Cluster): the stream is ``<prefix>:actions`` (consumers read
it with consumer groups: ``XGROUP CREATE <prefix>:actions mailer $ MKSTREAM``), the schedule and
processing sets are ``<prefix>:schedule:{<prefix>:actions}`` and
``<prefix>:processing:{<prefix>:actions}``: their hash tag is the stream's own name, so the three
share one cluster slot and claim and publish are single Lua scripts. Webhook deliveries (their
retries and dead letters) are kept in the same slot by :mod:`personalization.automation.deliveries`.

:class:`~personalization.automation.redis_scheduler.RedisScheduler` keeps it in Redis,
:class:`~personalization.automation.memory_scheduler.MemoryScheduler` in one process; the part
both share is :class:`~personalization.automation.records_scheduler.RecordsScheduler`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from personalization.automation.action_record import ActionRecord, Claim


class Scheduler(Protocol):
    """Delayed steps; see the module docstring. Both implementations pass the same tests."""

    async def schedule(self, records: Sequence[ActionRecord]) -> None:
        """Store records; pending ones are scheduled for their ``send_at``."""
        ...

    async def update(self, record: ActionRecord) -> None:
        """Rewrite a record (an outcome, a note) without touching the schedule."""
        ...

    async def cancel(
        self, profile_id: str, action_ids: Iterable[str], *, reason: str, now: datetime
    ) -> list[ActionRecord]:
        """Cancel those of the steps that are still pending; returns the cancelled records."""
        ...

    async def actions(self, profile_id: str) -> list[ActionRecord]:
        """The person's pending and past steps, by ``send_at``."""
        ...

    async def claim(self, now: datetime, limit: int) -> list[Claim]:
        """Claim up to ``limit`` due steps (and steps whose lease expired) for this worker."""
        ...

    async def publish(self, claims: Sequence[Claim], now: datetime) -> list[ActionRecord]:
        """Publish claimed steps to the ``actions`` stream; returns those published by this call.

        Claims whose step was cancelled or erased meanwhile are dropped; claims whose lease was
        taken over by another worker are left to that worker.
        """
        ...

    async def published(self, count: int = 100) -> list[tuple[str, ActionRecord]]:
        """The latest stream entries ``(entry_id, record)``, oldest first."""
        ...

    async def backlog(self) -> tuple[int, int]:
        """``(scheduled, processing)``: how many steps wait and how many are claimed."""
        ...

    async def erase_person(self, profile_id: str) -> None:
        """Forget the person's steps everywhere: records, schedule and stream (their webhook
        deliveries are the delivery queue's: :mod:`personalization.automation.deliveries`)."""
        ...
