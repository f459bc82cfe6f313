"""``kairos content import DIR`` / ``kairos content export DIR``: the pool as YAML files in git.

Both talk to the store the service is configured with: Redis (or Redis Cluster) at
``KAIROS_REDIS_URL`` (``KAIROS_REDIS_CLUSTER``, ``KAIROS_REDIS_PREFIX``), or ``--redis-url``.
Without a Redis URL there is no shared store to write to (the service's embedded store lives
inside the service process), so ``import`` only validates the files and reports what it found
(a dry run), and ``export`` refuses.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from content_pool.catalog import check_categories
from content_pool.errors import InvalidContent
from content_pool.models import ContentDraft
from content_pool.render import Renderer
from content_pool.storage import ImportSummary, RedisContentStore, import_items
from content_pool.yaml_io import dump_dir, load_dir
from intent.interest import DEFAULT_TAXONOMY, load_taxonomy
from personalization.store.redis_client import connect
from service.settings import Settings

content_app = typer.Typer(
    help="Import and export the content pool as YAML files.", no_args_is_help=True
)
console = Console(stderr=True)

_REDIS_URL = typer.Option(None, "--redis-url", help="Redis URL (default: KAIROS_REDIS_URL).")
_CLUSTER = typer.Option(
    None,
    "--cluster/--no-cluster",
    help="The URL is a Redis Cluster node (default: KAIROS_REDIS_CLUSTER).",
)


def _store_settings(redis_url: str | None, cluster: bool | None) -> tuple[str | None, bool, str]:
    settings = Settings()
    url = redis_url or settings.redis_url
    return url, settings.redis_cluster if cluster is None else cluster, settings.redis_prefix


def _load(directory: Path) -> list[ContentDraft]:
    """The drafts of ``directory``, checked like the API checks them: fields, templates, and
    categories against the taxonomy (``KAIROS_TAXONOMY_FILE``, else the bundled one)."""
    settings = Settings()
    try:
        drafts = load_dir(directory)
        Renderer().validate_all(drafts)
        check_categories(drafts, load_taxonomy(settings.taxonomy_file or DEFAULT_TAXONOMY).ids)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    except InvalidContent as exc:
        console.print(f"[red]{len(exc.field_errors)} problem(s) in {directory}:[/]")
        for error in exc.field_errors:
            console.print(f"  {error.loc}: {error.message}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    return drafts


def _overview(drafts: list[ContentDraft]) -> Table:
    table = Table("slot", "channel", "language", "items", "live", "defaults")
    groups: dict[tuple[str, str, str], list[ContentDraft]] = {}
    for draft in drafts:
        groups.setdefault((draft.slot, draft.channel, draft.language), []).append(draft)
    for (slot, channel, language), members in sorted(groups.items()):
        live = sum(d.status == "live" for d in members)
        defaults = sum(d.is_default and d.status == "live" for d in members)
        table.add_row(slot, channel, language, str(len(members)), str(live), str(defaults))
    return table


@content_app.command("import")
def import_(
    directory: Annotated[Path, typer.Argument(help="Directory of YAML files.")],
    redis_url: str | None = _REDIS_URL,
    cluster: bool | None = _CLUSTER,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only validate and report."),
) -> None:
    """Validate every item in DIR and write the changed ones to the store as new versions."""
    drafts = _load(directory)
    console.print(_overview(drafts))
    url, is_cluster, prefix = _store_settings(redis_url, cluster)
    if dry_run or not url:
        reason = "--dry-run" if dry_run else "no KAIROS_REDIS_URL / --redis-url set"
        console.print(f"[green]{len(drafts)} items valid.[/] Dry run ({reason}): nothing written.")
        return
    summary = asyncio.run(_import(drafts, url, is_cluster, prefix))
    console.print(
        f"[green]{len(summary.created)} created, {len(summary.updated)} updated, "
        f"{len(summary.unchanged)} unchanged[/] in {prefix!r}."
    )


@content_app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="Directory to write <slot>.yaml files to.")],
    redis_url: str | None = _REDIS_URL,
    cluster: bool | None = _CLUSTER,
    include_archived: bool = typer.Option(False, help="Also export archived items."),
) -> None:
    """Write the current version of every item in the store as YAML, one file per slot."""
    url, is_cluster, prefix = _store_settings(redis_url, cluster)
    if not url:
        console.print(
            "[red]No store to export from:[/] set KAIROS_REDIS_URL or --redis-url "
            "(the embedded store lives inside the running service)."
        )
        raise typer.Exit(2)
    drafts = asyncio.run(_export(url, is_cluster, prefix))
    if not include_archived:
        drafts = [d for d in drafts if d.status != "archived"]
    written = dump_dir(drafts, directory)
    console.print(f"[green]{len(drafts)} items[/] written to {len(written)} file(s) in {directory}")


async def _import(
    drafts: list[ContentDraft], url: str, cluster: bool, prefix: str
) -> ImportSummary:
    client = connect(url, cluster=cluster)
    try:
        return await import_items(RedisContentStore(client, prefix), drafts)
    finally:
        await client.aclose()


async def _export(url: str, cluster: bool, prefix: str) -> list[ContentDraft]:
    client = connect(url, cluster=cluster)
    try:
        return [item.draft() for item in await RedisContentStore(client, prefix).all()]
    finally:
        await client.aclose()
