"""The automation worker (``kairos worker``): reacts to events, publishes due steps, and
optionally POSTs them to a webhook.

With Redis, ``/v1/events`` stores events and leaves one change per profile in a change feed
(:mod:`personalization.profiles.reactions`); the worker runs the listeners (automation programmes,
A/B goals, calendar schedules) on those changes, so ingestion does not wait for them.

Run as many as you like against one Redis: each due step is claimed by one worker, and a worker
that dies mid-batch loses nothing (its claims are taken over once their lease has passed; see
:mod:`personalization.automation.scheduler`). Each loop claims up to ``batch_size`` due steps and
publishes them to the ``actions`` stream; when a webhook is configured it then takes deliveries
(new actions, due retries, deliveries a dead worker held) from the delivery queue
(:mod:`personalization.automation.deliveries`, at least once, kept in the store) and POSTs each
once, up to ``max_deliveries`` at a time; the queue reschedules failures with backoff and parks
the hopeless in its dead letters. When there is nothing to do, the worker sleeps
``poll_interval`` seconds. SIGTERM or SIGINT stop it after the batch in hand and the POSTs under
way; SIGKILL loses nothing either (the deliveries it held come back after their lease).

Webhook requests carry the action as JSON and the headers ``X-Kairos-Signature:
sha256=<hex HMAC-SHA256 of the raw body with the shared secret>``, ``Idempotency-Key`` (the action
id, also sent as ``X-Kairos-Action-Id``: the same on every try, for the receiver's deduplication)
and ``X-Kairos-Attempt`` (1, 2, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import uuid
from typing import NamedTuple

import httpx

from personalization.automation.deliveries import Delivery, DeliveryQueue, RetryPolicy
from personalization.automation.scheduler import Scheduler
from personalization.clock import Clock, system_clock
from personalization.errors import STORE_ERRORS
from personalization.profiles.reactions import Reactions
from personalization.profiles.service import ProfileService
from service.settings import Settings

log = logging.getLogger("kairos.worker")


def sign(body: bytes, secret: str) -> str:
    """The signature header value for ``body``: ``sha256=<hex digest>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    """Whether ``signature`` is the one :func:`sign` gives (constant-time comparison)."""
    return hmac.compare_digest(sign(body, secret), signature)


class Attempt(NamedTuple):
    """What one POST gave: ``error`` is ``None`` after a 2xx; ``final`` when retrying is useless."""

    error: str | None
    final: bool = False


class WebhookSender:
    """POSTs one try of a delivery to one URL; retries are the delivery queue's business."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.secret = secret
        self.client = client or httpx.AsyncClient(timeout=timeout)

    async def send(self, delivery: Delivery) -> Attempt:
        """POST ``delivery`` once, signed, with its idempotency key and attempt number."""
        body = delivery.body()
        headers = {"Content-Type": "application/json", "Idempotency-Key": delivery.action_id,
                   "X-Kairos-Action-Id": delivery.action_id,
                   "X-Kairos-Attempt": str(delivery.attempt),
                   "X-Kairos-Signature": sign(body, self.secret)}
        try:
            response = await self.client.post(self.url, content=body, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # kept with the dead letter
            return Attempt(f"{type(exc).__name__}: {exc}".rstrip(": "))
        if response.is_success:
            return Attempt(None)
        # The receiver refuses this one (4xx but timeout and too-many-requests): retrying will
        # not help, so it goes to the dead letters at once.
        refused = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        return Attempt(f"HTTP {response.status_code}", final=refused)

    async def aclose(self) -> None:
        await self.client.aclose()


def build_webhook(settings: Settings) -> WebhookSender | None:
    """The webhook sender ``settings`` ask for, if any."""
    if not settings.webhook_url or settings.webhook_secret is None:
        return None
    return WebhookSender(settings.webhook_url, settings.webhook_secret.get_secret_value())


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_tries=settings.webhook_max_tries,
                       backoff=settings.webhook_backoff_seconds,
                       max_backoff=max(900.0, settings.webhook_backoff_seconds))


def build_reactions(profiles: ProfileService, *, name: str, batch_size: int) -> Reactions | None:
    """A consumer of the profile service's change feed (``None`` when reactions run inline),
    named uniquely so that several of them share the feed's consumer group."""
    if profiles.changes is None:
        return None
    return Reactions(profiles, profiles.changes, consumer=f"{name}-{uuid.uuid4().hex[:8]}",
                     batch_size=batch_size)


class Worker:
    """Claims and publishes due steps, and delivers them to the webhook, until stopped."""

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        clock: Clock = system_clock,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        webhook: WebhookSender | None = None,
        deliveries: DeliveryQueue | None = None,
        max_deliveries: int = 32,
        name: str = "worker",
        reactions: Reactions | None = None,
    ) -> None:
        assert webhook is None or deliveries is not None, "a webhook needs a delivery queue"
        self.scheduler = scheduler
        self.reactions = reactions
        self.clock = clock
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.webhook = webhook
        self.deliveries = deliveries
        self.max_deliveries = max_deliveries
        self.name = name
        self.consumer = f"{name}-{uuid.uuid4().hex[:8]}"
        self.published = 0
        self.delivered = 0
        self.retried = 0
        self.dead_lettered = 0
        self._sending: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()  # a sending slot became free

    async def run_once(self) -> int:
        """Claim and publish one batch; returns how many steps it claimed.

        Claimed steps that were cancelled meanwhile are dropped, not published, so the count
        can exceed what :attr:`published` grows by.
        """
        claims = await self.scheduler.claim(self.clock(), self.batch_size)
        if not claims:
            return 0
        published = await self.scheduler.publish(claims, self.clock())
        self.published += len(published)
        return len(claims)

    async def react_once(self) -> int:
        """Handle one batch of changes from the feed; returns how many (0 without a feed)."""
        if self.reactions is None:
            return 0
        return await self.reactions.run_once()

    async def deliver_once(self) -> int:
        """Take as many deliveries as there are free sending slots and start their POSTs;
        returns how many (0 without a webhook, or when every slot is busy)."""
        room = self.max_deliveries - len(self._sending)
        if self.webhook is None or self.deliveries is None or room <= 0:
            return 0
        taken = await self.deliveries.take(self.consumer, room, self.clock())
        for delivery in taken:
            task = asyncio.create_task(self._send(delivery))
            self._sending.add(task)
            task.add_done_callback(self._done_sending)
        return len(taken)

    def _done_sending(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self._freed.set()

    async def _send(self, delivery: Delivery) -> None:
        assert self.webhook is not None and self.deliveries is not None
        attempt = await self.webhook.send(delivery)
        try:
            if attempt.error is None:
                await self.deliveries.delivered(delivery)
                self.delivered += 1
            elif await self.deliveries.failed(delivery, attempt.error, self.clock(),
                                              final=attempt.final):
                self.dead_lettered += 1
                log.warning("webhook gave up", extra={
                    "action_id": delivery.action_id, "attempt": delivery.attempt,
                    "error": attempt.error})
            else:
                self.retried += 1
        except STORE_ERRORS as exc:  # unsettled: it comes back once the lease has passed
            log.warning("delivery not settled", extra={"action_id": delivery.action_id,
                                                       "error": str(exc)})

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until ``stop`` is set; then finish the POSTs under way and return."""
        log.info("worker started", extra={"worker": self.consumer, "batch_size": self.batch_size})
        full = self.reactions.batch_size if self.reactions is not None else 0
        if self.webhook is not None and self.deliveries is not None:
            with contextlib.suppress(*STORE_ERRORS):  # else the first take opens it
                await self.deliveries.open()  # before publishing: every action is delivered
        while not stop.is_set():
            try:
                # Reactions first: they plan the steps that may be due at once.
                handled = await self.react_once()
                claimed = await self.run_once()
                sending = await self.deliver_once()
            except STORE_ERRORS as exc:
                log.warning("store unavailable; retrying", extra={"error": str(exc)})
                handled = claimed = sending = 0
            if len(self._sending) >= self.max_deliveries:  # every slot busy: until one frees
                await self._pause(stop, self._freed)
            elif not (claimed >= self.batch_size or (full > 0 and handled >= full) or sending):
                await self._pause(stop)
        await self.drain()
        log.info("worker stopped", extra={"worker": self.consumer, "published": self.published})

    async def _pause(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        """Sleep ``poll_interval`` unless ``stop`` (or ``wake``) is set before."""
        waits = [asyncio.create_task(e.wait()) for e in (stop, wake) if e is not None]
        if wake is not None:
            wake.clear()
        _, waiting = await asyncio.wait(waits, timeout=self.poll_interval,
                                        return_when=asyncio.FIRST_COMPLETED)
        for task in waiting:
            task.cancel()

    async def drain(self) -> None:
        """Wait for the POSTs under way (each settles its delivery)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
