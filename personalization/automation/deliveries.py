"""Webhook deliveries of published actions: at least once, retried with backoff, dead letters.

Every action the scheduler publishes to the ``actions`` stream is also a *delivery* for the
webhook. The delivery state lives in the store, never in a worker's memory, so a worker killed in
the middle of retries loses nothing:

- new deliveries are read from the ``actions`` stream itself by the consumer group ``webhook``
  (the stream is the outbox: publishing and enqueuing are one write);
- a worker :meth:`~DeliveryQueue.take` s deliveries, POSTs each once, then settles it:
  :meth:`~DeliveryQueue.delivered` after a 2xx, else :meth:`~DeliveryQueue.failed`, which
  reschedules it after an exponential backoff with jitter, or, after ``max_tries`` (or when the
  receiver refuses it for good), parks it in the dead-letter stream with the reason;
- a delivery taken by a worker that died comes back to any worker once ``lease`` has passed;
- :meth:`~DeliveryQueue.replay` puts dead letters back, with a fresh set of tries.

So every action reaches the receiver at least once, or sits in the dead letters. A worker that
dies after the receiver answered 2xx but before it settled the delivery causes one more send:
receivers drop it by the idempotency key (the action id, the same on every try). First tries
wait in the ``actions`` stream, which keeps its latest 100,000 entries: a receiver down while
more actions than that are published loses the oldest first tries (logged as dropped).

Redis layout (single and Cluster), all in the slot of ``{<prefix>:actions}``, so that each
settlement is one Lua script: the ``<prefix>:actions`` stream with the group ``webhook``; the
retries, a sorted set ``<prefix>:deliveries:retry:{<prefix>:actions}`` scored by the time of the
next try (ms); the dead letters, a stream ``<prefix>:deliveries:dead:{<prefix>:actions}``.

:class:`MemoryDeliveries` keeps the same state in the process (the embedded store): it has the
same semantics while the process lives, but a restart forgets the deliveries under way, their
retries and the dead letters; only Redis makes deliveries survive a crash.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol

import orjson

from personalization.automation.action_record import ms
from personalization.automation.memory_scheduler import MemoryScheduler
from personalization.store.protocols import Document

GROUP = "webhook"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a delivery is tried.

    ``delay(attempt)`` after failed try ``attempt`` is ``backoff * 2 ** (attempt - 1)`` seconds,
    capped at ``max_backoff``, of which a random half is jitter (so deliveries that failed
    together do not come back together): with ``backoff=1``, 0.5-1 s, then 1-2 s, 2-4 s...
    """

    max_tries: int = 5
    backoff: float = 1.0
    max_backoff: float = 900.0

    def __post_init__(self) -> None:
        assert self.max_tries >= 1, "max_tries must be at least 1"
        assert self.backoff > 0 and self.max_backoff >= self.backoff, "bad backoff"

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
        return base / 2 + rng.uniform(0, base / 2)

@dataclass(frozen=True, slots=True)
class Delivery:
    """One try to come: the action as published, and where the delivery is kept.

    ``attempt`` is the number of this try (1 for the first); ``handle`` names the delivery in the
    store (``s:<stream entry id>`` for a first try, ``r:<retry member>`` for a retry) and
    ``token`` the lease of a retry, so that only its holder settles it.
    """

    action_id: str
    profile_id: str
    action: Document
    attempt: int
    first_at: int  # ms since the epoch: when the action was published
    last_error: str | None
    handle: str
    token: int = 0

    def body(self) -> bytes:
        """The request body: the action as JSON, the same bytes on every try."""
        return orjson.dumps(self.action)


class DeadLetter(NamedTuple):
    """A delivery that exhausted its tries (or was refused), with the reason."""

    id: str
    action_id: str
    profile_id: str
    action: Document
    error: str
    attempts: int
    first_at: datetime
    last_at: datetime

    def document(self) -> Document:
        return {"id": self.id, "action_id": self.action_id, "profile_id": self.profile_id,
                "error": self.error, "attempts": self.attempts,
                "first_at": self.first_at.isoformat(), "last_at": self.last_at.isoformat(),
                "action": self.action}


class DeliveryCounts(NamedTuple):
    pending: int  # published, first try not yet settled
    retrying: int  # waiting for (or in) a later try
    dead: int  # parked in the dead letters


class DeliveryQueue(Protocol):
    """Webhook deliveries; see the module docstring. Both implementations pass the same tests."""

    async def open(self) -> None:
        """Start following the actions stream (the ones published from now on are delivered)."""
        ...

    async def take(self, consumer: str, count: int, now: datetime) -> list[Delivery]:
        """Up to ``count`` deliveries for ``consumer``: due retries, then deliveries another
        consumer held longer than the lease, then new actions."""
        ...

    async def delivered(self, delivery: Delivery) -> bool:
        """The receiver took it: forget it. ``False`` if another consumer had taken it over."""
        ...

    async def failed(self, delivery: Delivery, error: str, now: datetime, *,
                     final: bool = False) -> bool:  # fmt: skip
        """The try failed with ``error``: retry it later, or park it in the dead letters after
        the last try or when ``final``. Returns whether it was parked."""
        ...

    async def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The parked deliveries, oldest first (at most ``count``)."""
        ...

    async def replay(self, ids: Sequence[str] | None, now: datetime) -> list[str]:
        """Put dead letters (``ids``, or all with ``None``) back for delivery with a fresh set of
        tries; returns the ids replayed (unknown ids are left out)."""
        ...

    async def counts(self) -> DeliveryCounts: ...

    async def forget(self, profile_id: str) -> None:
        """Erasure: drop the person's retries and dead letters."""
        ...


def retry_member(delivery: Delivery, attempts: int, error: str | None) -> str:
    """The retry set's member for a delivery that has had ``attempts`` tries."""
    return orjson.dumps({"action_id": delivery.action_id, "profile_id": delivery.profile_id,
                         "attempts": attempts, "first_at": delivery.first_at, "error": error,
                         "action": delivery.action}).decode()


def from_member(member: str, token: int) -> Delivery:
    doc = orjson.loads(member)
    return Delivery(doc["action_id"], doc["profile_id"], doc["action"], doc["attempts"] + 1,
                    doc["first_at"], doc["error"], "r:" + member, token)


def first_try(entry_id: str, action: Document) -> Delivery:
    """The first try of the action published as stream entry ``entry_id``."""
    published = action.get("published_at")
    first_at = (ms(datetime.fromisoformat(published)) if isinstance(published, str)
                else int(entry_id.split("-")[0]))  # a Redis stream id starts with its time
    return Delivery(str(action["action_id"]), str(action.get("profile_id") or ""), action, 1,
                    first_at, None, "s:" + entry_id)


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


class MemoryDeliveries:
    """The deliveries of one process, read from a :class:`MemoryScheduler`'s stream."""

    def __init__(self, source: MemoryScheduler, *, policy: RetryPolicy | None = None,
                 lease: timedelta = timedelta(seconds=30), rng: random.Random | None = None,
                 max_dead: int = 100_000) -> None:  # fmt: skip
        self.source = source
        self.policy = policy or RetryPolicy()
        self.lease = lease
        self.rng = rng or random.Random()
        self.max_dead = max_dead
        self._cursor: str | None = None
        self._opened = False
        self._held: dict[str, tuple[int, Delivery]] = {}  # entry id -> (lease deadline, first try)
        self._retry: dict[str, int] = {}  # member -> next try (or lease deadline), ms
        self._dead: list[DeadLetter] = []
        self._seq = 0

    async def open(self) -> None:
        if not self._opened:
            latest = await self.source.published(1)
            self._cursor = latest[-1][0] if latest else None
            self._opened = True

    async def take(self, consumer: str, count: int, now: datetime) -> list[Delivery]:
        await self.open()
        now_ms, deadline = ms(now), ms(now + self.lease)
        out: list[Delivery] = []
        for member, due in sorted(self._retry.items(), key=lambda item: item[1]):
            if len(out) >= count or due > now_ms:
                break
            self._retry[member] = deadline
            out.append(from_member(member, deadline))
        for entry_id, (until, delivery) in list(self._held.items()):
            if len(out) < count and until <= now_ms:
                self._held[entry_id] = (deadline, delivery)
                out.append(delivery)
        if len(out) < count:
            for entry_id, record in self.source.published_after(self._cursor, count - len(out)):
                delivery = first_try(entry_id, record.document())
                self._held[entry_id] = (deadline, delivery)
                self._cursor = entry_id
                out.append(delivery)
        return out

    def _release(self, delivery: Delivery) -> bool:
        kind, key = delivery.handle[0], delivery.handle[2:]
        if kind == "s":
            return self._held.pop(key, None) is not None
        if self._retry.get(key) != delivery.token:
            return False
        del self._retry[key]
        return True

    async def delivered(self, delivery: Delivery) -> bool:
        return self._release(delivery)

    async def failed(self, delivery: Delivery, error: str, now: datetime, *,
                     final: bool = False) -> bool:  # fmt: skip
        if not self._release(delivery):
            return False
        if final or delivery.attempt >= self.policy.max_tries:
            self._seq += 1
            self._dead.append(DeadLetter(
                f"{self._seq}-0", delivery.action_id, delivery.profile_id, delivery.action, error,
                delivery.attempt, from_ms(delivery.first_at), now))
            del self._dead[: max(0, len(self._dead) - self.max_dead)]
            return True
        wait = self.policy.delay(delivery.attempt, self.rng)
        self._retry[retry_member(delivery, delivery.attempt, error)] = ms(now) + int(wait * 1000)
        return False

    async def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        return self._dead[:count]

    async def replay(self, ids: Sequence[str] | None, now: datetime) -> list[str]:
        wanted = None if ids is None else set(ids)
        chosen = [d for d in self._dead if wanted is None or d.id in wanted]
        self._dead = [d for d in self._dead if d not in chosen]
        for dead in chosen:
            delivery = Delivery(dead.action_id, dead.profile_id, dead.action, 0,
                                ms(dead.first_at), dead.error, "")
            self._retry[retry_member(delivery, 0, dead.error)] = ms(now)
        return [d.id for d in chosen]

    async def counts(self) -> DeliveryCounts:
        waiting = len(self.source.published_after(self._cursor, 1_000_000)) if self._opened else 0
        return DeliveryCounts(len(self._held) + waiting, len(self._retry), len(self._dead))

    async def forget(self, profile_id: str) -> None:
        self._held = {k: v for k, v in self._held.items() if v[1].profile_id != profile_id}
        self._retry = {m: s for m, s in self._retry.items()
                       if orjson.loads(m)["profile_id"] != profile_id}
        self._dead = [d for d in self._dead if d.profile_id != profile_id]

