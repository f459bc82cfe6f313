"""The half of a scheduler both implementations share: the steps' records, in the person's store.

Subclasses keep the schedule itself (see :mod:`personalization.automation.scheduler`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from personalization.automation.action_record import (
    PART,
    ActionRecord,
    Claim,
    due_members,
    member_of,
)
from personalization.automation.programmes import describe_age, format_duration
from personalization.store.protocols import PersonalRecords


class RecordsScheduler:
    """What both implementations share: the records half, kept in :class:`PersonalRecords`."""

    def __init__(
        self, records: PersonalRecords, *, lease: timedelta, record_ttl: timedelta,
        max_past: int, prune_slack: int,
    ) -> None:
        assert lease > timedelta(0), "the lease must be positive"
        assert prune_slack >= 0, "prune_slack cannot be negative"
        self.records = records
        self.lease = lease
        self.record_ttl = record_ttl
        self.max_past = max_past
        self.prune_slack = prune_slack

    # -- subclass hooks ------------------------------------------------------------------------
    async def _enqueue(self, members: Sequence[tuple[str, int]]) -> None:
        raise NotImplementedError

    async def _dequeue(self, members: Sequence[str]) -> None:
        raise NotImplementedError

    async def _append(
        self, items: Sequence[tuple[Claim, ActionRecord | None]]
    ) -> list[str | None]:
        """Atomically per claim: if the lease is still ours, append the record (when given) to
        the stream and release the claim. Returns the stream id, or ``None``."""
        raise NotImplementedError

    async def _load(self, claims: Sequence[Claim]) -> list[ActionRecord | None]:
        out = []
        for claim in claims:
            docs = await self.records.get_records(claim.profile_id, PART)
            doc = docs.get(claim.action_id)
            out.append(ActionRecord.model_validate(doc) if doc is not None else None)
        return out

    async def _mark_sent(self, records: Sequence[ActionRecord]) -> list[bool]:
        """Store each record (status ``sent``) if its stored version is still pending.

        ``False`` for a record that was cancelled or erased meanwhile (it is left as it is).
        """
        out = []
        for record in records:
            assert record.profile_id is not None
            current = (await self.records.get_records(record.profile_id, PART)).get(
                record.action_id)
            status = current.get("status") if current is not None else None
            if status == "pending":
                await self._write([record])
            out.append(status in ("pending", "sent"))
        return out

    async def _write(self, records: Sequence[ActionRecord]) -> None:
        for record in records:
            assert record.profile_id is not None
            await self.records.put_record(
                record.profile_id, PART, record.action_id, record.document(), ttl=self.record_ttl
            )

    # -- shared --------------------------------------------------------------------------------
    async def schedule(self, records: Sequence[ActionRecord]) -> None:
        await self._write(records)
        await self._enqueue(due_members(records))
        for profile_id in {r.profile_id for r in records if r.profile_id is not None}:
            await self._prune(profile_id, await self.records.count_records(profile_id, PART))

    async def _prune(self, profile_id: str, count: int) -> None:
        """Drop the oldest past records beyond ``max_past`` of a person who has ``count``."""
        # Reading every record to prune is the costly part of scheduling: do it only once the
        # person has ``prune_slack`` records more than the bound, which keeps it amortised.
        if count <= self.max_past + self.prune_slack:
            return
        past = [r for r in await self.actions(profile_id) if r.status != "pending"]
        for record in past[: max(0, len(past) - self.max_past)]:
            await self.records.delete_record(profile_id, PART, record.action_id)

    async def update(self, record: ActionRecord) -> None:
        await self._write([record])

    async def cancel(
        self, profile_id: str, action_ids: Iterable[str], *, reason: str, now: datetime
    ) -> list[ActionRecord]:
        wanted = set(action_ids)
        docs = await self.records.get_records(profile_id, PART)
        cancelled = [
            ActionRecord.model_validate(doc).model_copy(
                update={"status": "cancelled", "note": reason, "closed_at": now}
            )
            for name, doc in docs.items()
            if name in wanted and doc.get("status") == "pending"
        ]
        if cancelled:
            await self._write(cancelled)
            await self._dequeue([member_of(profile_id, r.action_id) for r in cancelled])
        return cancelled

    async def actions(self, profile_id: str) -> list[ActionRecord]:
        docs = await self.records.get_records(profile_id, PART)
        records = [ActionRecord.model_validate(doc) for doc in docs.values()]
        return sorted(records, key=lambda r: (r.send_at, r.created_at, r.action_id))

    async def publish(self, claims: Sequence[Claim], now: datetime) -> list[ActionRecord]:
        if not claims:
            return []
        loaded = await self._load(claims)
        items: list[tuple[Claim, ActionRecord | None]] = []
        first_time: list[ActionRecord] = []
        for claim, record in zip(claims, loaded, strict=True):
            if record is None or record.status in ("cancelled", "suppressed", "skipped"):
                items.append((claim, None))  # erased or cancelled meanwhile: just release it
                continue
            if record.status == "pending" and record.expires_at and now > record.expires_at:
                first_time.append(_too_late(record, now))  # stored, not published
                items.append((claim, None))
                continue
            if record.status == "pending":
                record = record.model_copy(update={"status": "sent", "published_at": now})
                first_time.append(record)
            items.append((claim, record))
        # Marked sent before the append: a worker dying in between leaves a claimed step that the
        # next claim publishes, never a sent step that still looks pending. A step cancelled or
        # erased since it was read is not marked (nor revived) and is dropped.
        still = dict(zip((r.action_id for r in first_time), await self._mark_sent(first_time),
                         strict=True))
        items = [(claim, record if record is None or still.get(record.action_id, True) else None)
                 for claim, record in items]
        ids = await self._append(items)
        return [
            record.model_copy(update={"stream_id": entry_id})
            for (_, record), entry_id in zip(items, ids, strict=True)
            if record is not None and entry_id is not None
        ]


def _too_late(record: ActionRecord, now: datetime) -> ActionRecord:
    """``record`` skipped because no worker took it before it expired (workers were down)."""
    assert record.expires_at is not None
    note = (f"the moment has passed: due {describe_age(now - record.send_at)} ago "
            f"({record.step} goes out at most "
            f"{format_duration(record.expires_at - record.send_at)} late)")
    return record.model_copy(update={"status": "skipped", "closed_at": now, "note": note,
                                     "reasons": [*record.reasons, note]})

