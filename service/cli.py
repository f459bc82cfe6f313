"""The ``kairos`` command line."""

from __future__ import annotations

import asyncio
import os
import signal
from importlib.metadata import version as package_version
from pathlib import Path
from types import FrameType

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from personalization.errors import InvalidProgramme
from personalization.profiles.signed_identity import IdentityVerifier
from service.cli_actions import actions_app
from service.cli_content import content_app
from service.cli_import import import_app
from service.cli_intent import intent_app
from service.cli_worker import run_worker
from service.dev_secrets import SecretsFileError, fill_from_var
from service.local_redis import LocalRedis, LocalRedisError, redis_server_binary
from service.programmes import import_programmes_file
from service.settings import Settings

VAR_DIR = Path("var")
"""Where a development Kairos keeps its data (relative to the working directory)."""

app = typer.Typer(help="Kairos: situational marketing in real time.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)
app.add_typer(content_app, name="content", help="Import and export the content pool as YAML.")
app.add_typer(intent_app, name="intent", help="Train, evaluate and try the intent model.")
app.add_typer(import_app, name="import", help="Import profiles (CRM) and orders (shop export).")
app.add_typer(actions_app, name="actions", help="Webhook dead letters: list and replay.")


@app.callback()
def _local_store(ctx: typer.Context) -> None:
    """Other commands use the redis-server of a `kairos serve` running in this directory when no
    Redis URL is configured (so `kairos content import` writes where the service reads)."""
    if ctx.invoked_subcommand in (None, "serve", "version"):
        return
    try:
        settings = Settings()
    except ValidationError:
        return  # the command itself reports it
    if settings.redis_url is not None or settings.store == "memory":
        return
    local = LocalRedis(VAR_DIR / "redis", binary="redis-server")
    if local.answers():
        os.environ["KAIROS_REDIS_URL"] = local.url
        console.print(f"Using the redis-server of kairos serve: {local.url}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes (use Redis when more than 1)."),
    reload: bool = typer.Option(False, help="Restart on code changes (development)."),
) -> None:
    """Start the HTTP service. Without KAIROS_REDIS_URL, also a local redis-server keeping its
    data in var/redis (KAIROS_STORE=memory: the in-process store, lost on restart)."""
    settings = _settings_or_exit()
    _development_secrets(settings)
    local = _local_redis(settings)
    if local is None and workers > 1 and not settings.redis_url:
        console.print("[yellow]Several workers without Redis each keep their own embedded store; "
                      "set a Redis URL to share profiles and statistics.[/]")
    console.print(f"Kairos on http://{host}:{port}  (docs: /docs, demo: /demo, console: /console)")
    if local is not None:
        # SIGTERM ends the server like Ctrl-C, so the local Redis is stopped after it.
        signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run(
            "service.app:create_app", factory=True, host=host, port=port,
            workers=None if reload else workers, reload=reload, log_level="warning",
            timeout_graceful_shutdown=10,
        )
    except KeyboardInterrupt:
        pass
    finally:
        if local is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            console.print("stopping redis-server (the append-only file is synced)")
            local.stop()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _settings_or_exit() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            console.print(f"[red]{'KAIROS_' + where.upper() if where else 'settings'}[/]: "
                          f"{error['msg']}")
        raise typer.Exit(2) from None


def _development_secrets(settings: Settings) -> None:
    """Keys and secrets the environment leaves unset come from var/secrets.json (made once)."""
    try:
        kept = fill_from_var(settings, VAR_DIR)
    except SecretsFileError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if kept is None:
        return
    if kept.generated:
        console.print(f"[bold yellow]Development keys generated[/] into {kept.path} (mode 0600): "
                      + ", ".join(kept.generated))
    console.print(f"Development keys and secrets: {kept.path} (KAIROS_SITE_KEY, KAIROS_ADMIN_KEY, "
                  "... in the environment win); show them with "
                  f"[bold]python -m json.tool {kept.path}[/]")


def _local_redis(settings: Settings) -> LocalRedis | None:
    """Without a Redis URL: start (or take over) the local redis-server and point the app's
    workers at it, with the reactions worker inside the app; ``None`` for the embedded store."""
    if settings.redis_url is not None:
        return None
    if settings.store == "memory":
        console.print("[yellow]KAIROS_STORE=memory: the embedded store; nothing survives a "
                      "restart.[/]")
        return None
    binary = redis_server_binary()
    if binary is None:
        if settings.store == "redis":
            console.print("[red]KAIROS_STORE=redis but redis-server is not installed "
                          "(make system installs it).[/]")
            raise typer.Exit(2)
        console.print("[bold red]redis-server is not installed: using the embedded in-process "
                      "store. NOTHING SURVIVES A RESTART (content, profiles, statistics). Run "
                      "`make system` or set KAIROS_REDIS_URL.[/]")
        return None
    local = LocalRedis(VAR_DIR / "redis", binary=binary, say=console.print)
    try:
        taken_over = local.start()
    except LocalRedisError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    local.watch()
    os.environ["KAIROS_REDIS_URL"] = local.url
    if settings.worker_in_app is None:  # one machine: automation runs without `kairos worker`
        os.environ["KAIROS_WORKER_IN_APP"] = "true"
    state = "taken over from an earlier run" if taken_over else "started"
    console.print(f"Data: redis-server {state} (pid {local.pid}), append-only file in "
                  f"{local.directory}")
    return local


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


identity_app = typer.Typer(help="Signed identities of logged-in customers.",
                            no_args_is_help=True)
app.add_typer(identity_app, name="identity", help="Sign an X-Kairos-Identity token to try it.")


@identity_app.command("sign")
def identity_sign(
    profile_id: str = typer.Argument(..., help="The logged-in customer's profile id."),
    ttl: int = typer.Option(3600, min=1, help="Seconds until the token expires."),
) -> None:
    """Print a token for PROFILE_ID signed with KAIROS_IDENTITY_SECRET (what the shop's backend
    does per page; send it as the X-Kairos-Identity header or data-kairos-identity)."""
    settings = Settings()
    if settings.identity_secret is None:
        console.print("[red]Set KAIROS_IDENTITY_SECRET[/] (the secret Kairos verifies with).")
        raise typer.Exit(2)
    verifier = IdentityVerifier([settings.identity_secret.get_secret_value().encode()],
                                max_lifetime=settings.identity_max_lifetime_hours * 3600)
    try:
        token = verifier.sign(profile_id, ttl=ttl)
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(f"expires in {ttl} s; header: X-Kairos-Identity")
    typer.echo(token)


@app.command()
def version() -> None:
    """Print the Kairos version."""
    typer.echo(package_version("kairos"))


if __name__ == "__main__":
    app()
