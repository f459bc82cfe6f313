"""``kairos worker``: the automation worker as a process of its own, built from the composition
root (:mod:`service.components`) without the HTTP app.

See :mod:`service.worker` for what the worker does and how several of them share one Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable

from personalization.errors import STORE_ERRORS
from service.components import build_components
from service.settings import Settings
from service.worker import Worker, build_reactions, build_webhook


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop`` (graceful shutdown after the batch in hand)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def report_progress(
    worker: Worker, stop: asyncio.Event, every: float, emit: Callable[[str], None]
) -> None:
    """Every ``every`` seconds, emit published/delivered counts, rate and backlog."""
    last, last_handled, last_at = 0, 0, time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        now = time.monotonic()
        elapsed = max(now - last_at, 1e-9)
        rate = (worker.published - last) / elapsed
        handled = worker.reactions.handled if worker.reactions is not None else 0
        try:
            scheduled, processing = await worker.scheduler.backlog()
            backlog = f"{scheduled} scheduled, {processing} claimed"
            if worker.reactions is not None:
                backlog += f", {await worker.reactions.feed.backlog()} changes waiting"
            if worker.webhook is not None and worker.deliveries is not None:
                counts = await worker.deliveries.counts()
                backlog += (f", deliveries {counts.pending} pending, {counts.retrying} retrying, "
                            f"{counts.dead} dead")
        except STORE_ERRORS:
            backlog = "backlog unknown (store unavailable)"
        emit(f"reacted to {handled} changes ({(handled - last_handled) / elapsed:.0f}/s), "
             f"published {worker.published} ({rate:.0f}/s), delivered {worker.delivered}, "
             f"retried {worker.retried}, dead-lettered {worker.dead_lettered}; {backlog}")
        last, last_handled, last_at = worker.published, handled, now


async def run_worker(
    settings: Settings,
    emit: Callable[[str], None],
    *,
    batch_size: int | None = None,
    poll_interval: float | None = None,
    progress_every: float = 10.0,
) -> Worker:
    """Build the components from ``settings`` as the app does (content pool, programmes, A/B
    tests, schedules), without the intent model, which the listeners do not use, and without the
    app's own background tasks; then run a worker on them until a signal.

    Without ``redis_url`` there is nothing to share with the app (the in-process store is the
    app's own), so this refuses to start.
    """
    if settings.redis_url is None:
        raise SystemExit("kairos worker needs KAIROS_REDIS_URL: without Redis the app publishes "
                         "due steps itself (KAIROS_WORKER_IN_APP).")
    own = settings.model_copy(update={"intent_encoder": None, "worker_in_app": False,
                                      "lifecycle_sweep_minutes": 0})
    components = await build_components(own)
    reactions = build_reactions(components.profiles, name="worker",
                                batch_size=batch_size or settings.worker_batch_size)
    webhook = build_webhook(settings)
    worker = Worker(components.scheduler, batch_size=batch_size or settings.worker_batch_size,
                    poll_interval=poll_interval or settings.worker_poll_seconds, webhook=webhook,
                    deliveries=components.deliveries, reactions=reactions)
    stop = asyncio.Event()
    install_signal_handlers(stop)
    emit(("worker reacting to events, " if reactions else "worker ")
         + f"publishing to {settings.redis_prefix}:actions"
         + (f" and {settings.webhook_url}" if webhook else "") + "; stop with Ctrl-C")
    progress = asyncio.create_task(report_progress(worker, stop, progress_every, emit))
    try:
        await worker.run(stop)
    finally:
        stop.set()
        await progress
        if webhook is not None:
            await webhook.aclose()
        await components.aclose()
    emit(f"worker stopped: published {worker.published}, delivered {worker.delivered}, "
         f"dead-lettered {worker.dead_lettered}")
    return worker
