"""``kairos actions dead-letters`` / ``kairos actions replay``: webhook deliveries that exhausted
their tries, listed (JSON Lines on stdout) and put back for delivery.

Both talk to the Redis the workers use (``KAIROS_REDIS_URL``, ``KAIROS_REDIS_CLUSTER``,
``KAIROS_REDIS_PREFIX``). Without Redis the dead letters live inside the service process (the
embedded store): use ``/v1/actions/dead-letters`` there.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import orjson
import typer
from rich.console import Console

from personalization.automation.redis_deliveries import RedisDeliveries
from personalization.clock import system_clock
from service.backend import RedisBackend, open_backend
from service.settings import Settings
from service.worker import retry_policy

actions_app = typer.Typer(help="Webhook deliveries of automation actions.", no_args_is_help=True)
console = Console(stderr=True)
_IDS = typer.Option([], "--id", help="A dead letter's id (repeat for several).")


def _deliveries(settings: Settings) -> tuple[RedisBackend, RedisDeliveries]:
    backend = open_backend(settings)
    if not isinstance(backend, RedisBackend):
        console.print("[red]No KAIROS_REDIS_URL:[/] without Redis the dead letters live inside "
                      "the service process; use GET /v1/actions/dead-letters there.")
        raise typer.Exit(2)
    lease = timedelta(seconds=settings.action_lease_seconds)
    deliveries = backend.deliveries(backend.scheduler(lease=lease), policy=retry_policy(settings),
                                    lease=timedelta(seconds=settings.webhook_lease_seconds))
    return backend, deliveries


@actions_app.command("dead-letters")
def dead_letters(
    limit: int = typer.Option(10_000, min=1, help="At most this many, oldest first."),
) -> None:
    """List parked deliveries as JSON Lines on stdout (id, action_id, error, attempts, ...)."""

    async def run() -> int:
        backend, deliveries = _deliveries(Settings())
        try:
            found = await deliveries.dead_letters(limit)
        finally:
            await backend.aclose()
        for dead in found:
            sys.stdout.write(orjson.dumps(dead.document()).decode() + "\n")
        return len(found)

    count = asyncio.run(run())
    console.print(f"{count} dead letter(s)")


@actions_app.command("replay")
def replay(
    ids: list[str] = _IDS,
    everything: bool = typer.Option(False, "--all", help="Replay every dead letter."),
) -> None:
    """Put dead letters back for delivery, each with a fresh set of tries; prints the ids
    replayed on stdout, one a line."""
    if everything == bool(ids):
        console.print("[red]Give --id ID (one or more) or --all.[/]")
        raise typer.Exit(2)

    async def run() -> list[str]:
        backend, deliveries = _deliveries(Settings())
        try:
            return await deliveries.replay(None if everything else ids, system_clock())
        finally:
            await backend.aclose()

    replayed = asyncio.run(run())
    for entry_id in replayed:
        sys.stdout.write(entry_id + "\n")
    missing = [i for i in ids if i not in replayed]
    console.print(f"{len(replayed)} dead letter(s) put back for delivery"
                  + (f"; not found: {', '.join(missing)}" if missing else ""))
    if missing:
        raise typer.Exit(1)
