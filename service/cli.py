"""The ``kairos`` command line."""

from __future__ import annotations

import asyncio
import os
from importlib.metadata import version as package_version

import typer
import uvicorn
from rich.console import Console

from personalization.errors import InvalidProgramme
from service.auth import ApiKeys
from service.cli_actions import actions_app
from service.cli_content import content_app
from service.cli_import import import_app
from service.cli_intent import intent_app
from service.cli_worker import run_worker
from service.programmes import import_programmes_file
from service.settings import Settings

app = typer.Typer(help="Kairos: situational marketing in real time.", no_args_is_help=True)
console = Console(stderr=True)
app.add_typer(content_app, name="content", help="Import and export the content pool as YAML.")
app.add_typer(intent_app, name="intent", help="Train, evaluate and try the intent model.")
app.add_typer(import_app, name="import", help="Import profiles (CRM) and orders (shop export).")
app.add_typer(actions_app, name="actions", help="Webhook dead letters: list and replay.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes (use Redis when more than 1)."),
    reload: bool = typer.Option(False, help="Restart on code changes (development)."),
) -> None:
    """Start the HTTP service."""
    if not os.environ.get("KAIROS_SITE_KEY") or not os.environ.get("KAIROS_ADMIN_KEY"):
        # Generated here, not per worker, so that every worker accepts the same keys.
        keys = ApiKeys.generate()
        os.environ.setdefault("KAIROS_SITE_KEY", keys.site)
        os.environ.setdefault("KAIROS_ADMIN_KEY", keys.admin)
        console.print("[bold yellow]Development keys[/] (set KAIROS_SITE_KEY / KAIROS_ADMIN_KEY "
                      "to choose your own):")
        console.print(f"  site key:  {os.environ['KAIROS_SITE_KEY']}")
        console.print(f"  admin key: {os.environ['KAIROS_ADMIN_KEY']}")
    if workers > 1 and not os.environ.get("KAIROS_REDIS_URL"):
        console.print("[yellow]Several workers without KAIROS_REDIS_URL each keep their own "
                      "embedded store; set a Redis URL to share profiles and statistics.[/]")
    console.print(f"Kairos on http://{host}:{port}  (docs: /docs, demo: /demo, console: /console)")
    uvicorn.run(
        "service.app:create_app", factory=True, host=host, port=port,
        workers=None if reload else workers, reload=reload, log_level="warning",
        timeout_graceful_shutdown=10,
    )


@app.command()
def worker(
    batch_size: int = typer.Option(
        0, min=0, help="Steps per claim and changes per take (0: KAIROS_WORKER_BATCH_SIZE)."),
    poll: float = typer.Option(0.0, min=0, help="Seconds between polls (0: from settings)."),
    progress_every: float = typer.Option(10.0, min=0.1, help="Seconds between progress lines."),
) -> None:
    """React to stored events (automation, A/B goals, schedules) and publish due steps to the
    actions stream (and webhook); safe to run several."""
    asyncio.run(run_worker(Settings(), console.print, batch_size=batch_size or None,
                           poll_interval=poll or None, progress_every=progress_every))


automation_app = typer.Typer(help="Automation programmes.", no_args_is_help=True)
app.add_typer(automation_app, name="automation", help="Validate and import programmes (YAML).")


@automation_app.command("import")
def automation_import(file: str = typer.Argument(..., help="Programmes YAML file.")) -> None:
    """Validate FILE; with KAIROS_REDIS_URL also store it for every app and worker."""
    settings = Settings()
    try:
        programmes = asyncio.run(import_programmes_file(settings, file))
    except InvalidProgramme as exc:
        for error in exc.errors:
            console.print(f"[red]{error['field']}[/]: {error['message']}")
        raise typer.Exit(1) from None
    where = "stored in Redis" if settings.redis_url else "valid (no KAIROS_REDIS_URL: not stored)"
    console.print(f"{len(programmes.programmes)} programmes {where}: "
                  + ", ".join(p.id for p in programmes))


@app.command()
def version() -> None:
    """Print the Kairos version."""
    typer.echo(package_version("kairos"))


if __name__ == "__main__":
    app()
