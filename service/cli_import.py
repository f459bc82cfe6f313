"""``kairos import profiles FILE`` / ``kairos import events FILE``: CRM and shop exports.

Both write to the store the service is configured with: Redis (or Redis Cluster) at
``KAIROS_REDIS_URL`` (``KAIROS_REDIS_CLUSTER``, ``KAIROS_REDIS_PREFIX``), or ``--redis-url``.
Without a Redis URL there is no shared store to write to (the embedded store lives inside the
service process), so the file is only validated and the summary reports a dry run. The shapes of
the files are documented in :mod:`personalization.profiles.importing`; ``--rejects FILE`` writes
every rejected row as CSV (``line,id,reason``).
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from personalization.errors import StoreUnavailable
from personalization.profiles.importing import (
    Format,
    Importer,
    ImportSummary,
    Kind,
    file_chunks,
    format_of,
)
from service.backend import open_backend
from service.factories import profile_policy
from service.settings import Settings

import_app = typer.Typer(help="Import profiles (a CRM export) and orders (a shop export).",
                         no_args_is_help=True)  # fmt: skip
console = Console(stderr=True)

_FILE = typer.Argument(help="CSV or JSON Lines file.", exists=True, dir_okay=False)
_FORMAT = typer.Option("--format", help="csv or jsonl (default: from the file suffix).")
_REJECTS = typer.Option("--rejects", help="Write rejected rows (line,id,reason) here.")
_REDIS_URL = typer.Option("--redis-url", help="Redis URL (default: KAIROS_REDIS_URL).")
_CLUSTER = typer.Option("--cluster/--no-cluster",
                        help="The URL is a Redis Cluster node (default: KAIROS_REDIS_CLUSTER).")
_DRY_RUN = typer.Option("--dry-run", help="Only validate and report.")


@import_app.command("profiles")
def profiles(
    file: Annotated[Path, _FILE],
    fmt: Annotated[str | None, _FORMAT] = None,
    rejects: Annotated[Path | None, _REJECTS] = None,
    redis_url: Annotated[str | None, _REDIS_URL] = None,
    cluster: Annotated[bool | None, _CLUSTER] = None,
    dry_run: Annotated[bool, _DRY_RUN] = False,
) -> None:
    """Import customers (one per row): attributes and consents, idempotently."""
    _command("profiles", file, fmt, rejects, redis_url, cluster, dry_run)


@import_app.command("events")
def events(
    file: Annotated[Path, _FILE],
    fmt: Annotated[str | None, _FORMAT] = None,
    rejects: Annotated[Path | None, _REJECTS] = None,
    redis_url: Annotated[str | None, _REDIS_URL] = None,
    cluster: Annotated[bool | None, _CLUSTER] = None,
    dry_run: Annotated[bool, _DRY_RUN] = False,
) -> None:
    """Import orders (one per row) as purchases, or Kairos events (JSON Lines), idempotently."""
    _command("events", file, fmt, rejects, redis_url, cluster, dry_run)


def _command(kind: Kind, file: Path, fmt: str | None, rejects: Path | None,
             redis_url: str | None, cluster: bool | None, dry_run: bool) -> None:  # fmt: skip
    try:
        chosen: Format = format_of(file) if fmt is None else _checked(fmt)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    settings = Settings()
    url = redis_url or settings.redis_url
    is_cluster = settings.redis_cluster if cluster is None else cluster
    if not url and not dry_run:
        console.print("[yellow]No KAIROS_REDIS_URL / --redis-url: a dry run, nothing written.[/]")
        dry_run = True
    handle: TextIO | None = rejects.open("w", newline="", encoding="utf-8") if rejects else None
    try:
        summary = asyncio.run(_run(kind, file, chosen, settings, url, is_cluster, dry_run, handle))
    except StoreUnavailable as exc:
        console.print(f"[red]{exc}[/] Rows written so far stay; run the import again to finish.")
        raise typer.Exit(1) from None
    finally:
        if handle is not None:
            handle.close()
    console.print(_line(summary, dry_run))
    for rejection in summary.rejections[:10]:
        console.print(f"  line {rejection.line}: {rejection.reason}", markup=False,
                      highlight=False)  # fmt: skip
    if summary.rejected > 10:
        more = f" (all in {rejects})" if rejects else " (use --rejects FILE to keep them all)"
        console.print(f"  ... {summary.rejected - 10} more{more}")
    if summary.ignored_columns:
        console.print(f"Ignored columns: {', '.join(summary.ignored_columns)}")


def _checked(fmt: str) -> Format:
    if fmt == "csv":
        return "csv"
    if fmt == "jsonl":
        return "jsonl"
    raise ValueError(f"--format must be csv or jsonl, not {fmt!r}")


async def _run(kind: Kind, file: Path, fmt: Format, settings: Settings, url: str | None,
               cluster: bool, dry_run: bool, rejects: TextIO | None) -> ImportSummary:  # fmt: skip
    writer = csv.writer(rejects) if rejects is not None else None
    if writer is not None:
        writer.writerow(["line", "id", "reason"])
    backend = None
    if url and not dry_run:
        backend = open_backend(settings.model_copy(update={"redis_url": url,
                                                           "redis_cluster": cluster}))
    store = backend.store if backend is not None else None
    policy = profile_policy(settings) if backend is not None else None
    importer = Importer(store, policy=policy, batch_size=settings.import_batch_size)
    progress = Progress(
        TextColumn(f"[bold]{kind}[/]"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TextColumn("{task.fields[rows]} rows"), TimeRemainingColumn(), console=console,
    )  # fmt: skip
    with progress:
        task: TaskID = progress.add_task(kind, total=file.stat().st_size, rows=0)
        try:
            return await importer.run(
                kind, file_chunks(file), fmt, dry_run=dry_run,
                on_rejection=(lambda r: writer.writerow([r.line, r.id or "", r.reason]))
                if writer is not None else None,
                on_progress=lambda done, rows: progress.update(task, completed=done, rows=rows),
            )  # fmt: skip
        finally:
            if backend is not None:
                await backend.aclose()


def _line(summary: ImportSummary, dry_run: bool) -> str:
    counts = (f"{summary.read} read, {summary.valid} valid, {summary.created} created, "
              f"{summary.updated} updated, {summary.skipped} skipped, {summary.rejected} rejected")
    if dry_run:
        return f"[bold]{summary.kind}[/] (dry run: nothing written): {counts}"
    return f"[bold]{summary.kind}[/]: [green]{counts}[/]"
