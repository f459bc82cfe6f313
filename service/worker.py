"""The automation worker (``kairos worker``): reacts to events, publishes due steps, and
optionally POSTs them to a webhook.

With Redis, ``/v1/events`` stores events and leaves one change per profile in a change feed
(:mod:`personalization.profiles.reactions`); the worker runs the listeners (automation programmes,
A/B goals, calendar schedules) on those changes, so ingestion does not wait for them.

Run as many as you like against one Redis: each due step is claimed by one worker, and a worker
that dies mid-batch loses nothing (its claims are taken over once their lease has passed; see
:mod:`personalization.automation.scheduler`). Each loop claims up to ``batch_size`` due steps,
publishes them to the ``actions`` stream and, when a webhook is configured, POSTs each one
(HMAC-signed, retried with exponential backoff, dead-lettered to ``<prefix>:actions:dead`` after
``max_tries``). When a batch comes back short, the worker sleeps ``poll_interval`` seconds. SIGTERM
or SIGINT stop it after the batch in hand and the deliveries under way.

Webhook requests carry the action as JSON and the headers ``X-Kairos-Signature:
sha256=<hex HMAC-SHA256 of the raw body with the shared secret>`` and ``X-Kairos-Action-Id``
(stable across retries, for the receiver's deduplication).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable

import httpx
import orjson

from personalization.automation.action_record import ActionRecord
from personalization.automation.scheduler import Scheduler
from personalization.clock import Clock, system_clock
from personalization.errors import STORE_ERRORS
from personalization.profiles.reactions import Reactions
from personalization.profiles.service import ProfileService
from service.settings import Settings

log = logging.getLogger("kairos.worker")

Sleep = Callable[[float], Awaitable[None]]


def sign(body: bytes, secret: str) -> str:
    """The signature header value for ``body``: ``sha256=<hex digest>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    """Whether ``signature`` is the one :func:`sign` gives (constant-time comparison)."""
    return hmac.compare_digest(sign(body, secret), signature)


class WebhookSender:
    """POSTs published actions to one URL, with retries and a dead letter for the hopeless."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        max_tries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 5.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        assert max_tries >= 1, "max_tries must be at least 1"
        self.url = url
        self.secret = secret
        self.client = client or httpx.AsyncClient(timeout=timeout)
        self.max_tries = max_tries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1, 2, ...): 1, 2, 4, ... capped."""
        return float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    async def deliver(self, record: ActionRecord) -> str | None:
        """Deliver one action; ``None`` on success, else the last error after all tries."""
        body = orjson.dumps(record.document())
        headers = {"Content-Type": "application/json", "X-Kairos-Action-Id": record.action_id,
                   "X-Kairos-Signature": sign(body, self.secret)}
        error = "not tried"
        for attempt in range(1, self.max_tries + 1):
            try:
                response = await self.client.post(self.url, content=body, headers=headers)
                if response.is_success:
                    return None
                error = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    return error  # the receiver refuses this one: retrying will not help
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt < self.max_tries:
                await self.sleep(self.delay(attempt))
        return f"{error} after {self.max_tries} tries"

    async def aclose(self) -> None:
        await self.client.aclose()


def build_webhook(settings: Settings) -> WebhookSender | None:
    """The webhook sender ``settings`` ask for, if any."""
    if not settings.webhook_url or settings.webhook_secret is None:
        return None
    return WebhookSender(settings.webhook_url, settings.webhook_secret.get_secret_value(),
                         max_tries=settings.webhook_max_tries,
                         backoff=settings.webhook_backoff_seconds)


def build_reactions(profiles: ProfileService, *, name: str, batch_size: int) -> Reactions | None:
    """A consumer of the profile service's change feed (``None`` when reactions run inline),
    named uniquely so that several of them share the feed's consumer group."""
    if profiles.changes is None:
        return None
    return Reactions(profiles, profiles.changes, consumer=f"{name}-{uuid.uuid4().hex[:8]}",
                     batch_size=batch_size)


class Worker:
    """Claims, publishes and delivers due steps until stopped."""

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        clock: Clock = system_clock,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        webhook: WebhookSender | None = None,
        max_deliveries: int = 32,
        name: str = "worker",
        reactions: Reactions | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.reactions = reactions
        self.clock = clock
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.webhook = webhook
        self.name = name
        self.published = 0
        self.delivered = 0
        self.dead_lettered = 0
        self._deliveries: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_deliveries)

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
        if self.webhook is not None:
            for record in published:
                await self._slots.acquire()
                task = asyncio.create_task(self._deliver(record))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)
        return len(claims)

    async def react_once(self) -> int:
        """Handle one batch of changes from the feed; returns how many (0 without a feed)."""
        if self.reactions is None:
            return 0
        return await self.reactions.run_once()

    async def _deliver(self, record: ActionRecord) -> None:
        assert self.webhook is not None
        try:
            error = await self.webhook.deliver(record)
            if error is None:
                self.delivered += 1
                return
            self.dead_lettered += 1
            log.warning("webhook gave up", extra={"action_id": record.action_id, "error": error})
            await self.scheduler.dead_letter(record, error)
        finally:
            self._slots.release()

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until ``stop`` is set; then finish the deliveries under way and return."""
        log.info("worker started", extra={"worker": self.name, "batch_size": self.batch_size})
        full = self.reactions.batch_size if self.reactions is not None else 0
        while not stop.is_set():
            try:
                # Reactions first: they plan the steps that may be due at once.
                handled = await self.react_once()
                claimed = await self.run_once()
            except STORE_ERRORS as exc:
                log.warning("store unavailable; retrying", extra={"error": str(exc)})
                handled = claimed = 0
            if claimed < self.batch_size and (full == 0 or handled < full):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)
        await self.drain()
        log.info("worker stopped", extra={"worker": self.name, "published": self.published})

    async def drain(self) -> None:
        """Wait for the webhook deliveries under way."""
        if self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)
