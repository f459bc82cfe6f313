"""The schedule inside one process, with the semantics of the Redis one (tests, no Redis)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from personalization.automation.action_record import PART, ActionRecord, Claim, ms, split_member
from personalization.automation.records_scheduler import RecordsScheduler
from personalization.store.memory_store import MemoryStore
from personalization.store.protocols import PersonalRecords


class MemoryScheduler(RecordsScheduler):
    """The same semantics inside one process (tests, ``make serve`` without Redis)."""

    def __init__(
        self,
        store: MemoryStore | PersonalRecords,
        *,
        lease: timedelta = timedelta(seconds=60),
        record_ttl: timedelta = timedelta(days=395),
        max_past: int = 100,
        prune_slack: int = 20,
        stream_maxlen: int = 100_000,
    ) -> None:
        super().__init__(store, lease=lease, record_ttl=record_ttl, max_past=max_past,
                         prune_slack=prune_slack)
        self.stream_maxlen = stream_maxlen
        self._schedule: dict[str, int] = {}
        self._processing: dict[str, int] = {}
        self._stream: list[tuple[str, str, ActionRecord]] = []  # (entry id, profile id, record)
        self._seq = 0

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self._seq}-0"

    async def _enqueue(self, members: Sequence[tuple[str, int]]) -> None:
        self._schedule.update(members)

    async def _dequeue(self, members: Sequence[str]) -> None:
        for member in members:
            self._schedule.pop(member, None)
            self._processing.pop(member, None)

    async def claim(self, now: datetime, limit: int) -> list[Claim]:
        now_ms, deadline = ms(now), ms(now + self.lease)
        expired = sorted((s, m) for m, s in self._processing.items() if s <= now_ms)[:limit]
        due = sorted((s, m) for m, s in self._schedule.items() if s <= now_ms)
        taken = [m for _, m in expired] + [m for _, m in due[: limit - len(expired)]]
        for member in taken:
            self._schedule.pop(member, None)
            self._processing[member] = deadline
        return [Claim(*split_member(m), token=deadline) for m in taken]

    async def _append(
        self, items: Sequence[tuple[Claim, ActionRecord | None]]
    ) -> list[str | None]:
        out: list[str | None] = []
        for claim, record in items:
            if self._processing.get(claim.member) != claim.token:
                out.append(None)
                continue
            del self._processing[claim.member]
            if record is None:
                out.append(None)
                continue
            entry_id = self._next_id()
            self._stream.append((entry_id, claim.profile_id, record))
            del self._stream[: max(0, len(self._stream) - self.stream_maxlen)]
            out.append(entry_id)
        return out

    async def published(self, count: int = 100) -> list[tuple[str, ActionRecord]]:
        return [(entry_id, record) for entry_id, _, record in self._stream[-count:]]

    def published_after(self, entry_id: str | None, count: int) -> list[tuple[str, ActionRecord]]:
        """Up to ``count`` stream entries after ``entry_id`` (from the start with ``None``)."""
        after = int(entry_id.split("-")[0]) if entry_id is not None else 0
        newer = [(i, r) for i, _, r in self._stream if int(i.split("-")[0]) > after]
        return newer[:count]

    async def backlog(self) -> tuple[int, int]:
        return len(self._schedule), len(self._processing)

    async def erase_person(self, profile_id: str) -> None:
        docs = await self.records.get_records(profile_id, PART)
        suffix = ":" + profile_id
        await self._dequeue(
            [m for m in [*self._schedule, *self._processing] if m.endswith(suffix)]
        )
        self._stream = [e for e in self._stream if e[1] != profile_id]
        for action_id in docs:
            await self.records.delete_record(profile_id, PART, action_id)
