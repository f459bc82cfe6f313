"""Automation for admins: a person's actions, and the programmes (``/v1/...``).

- ``GET /v1/profiles/{id}/actions``: pending and past steps of the person, with their reasons;
- ``GET /v1/programmes``: the programmes in use (JSON, or YAML with ``Accept: application/yaml``);
- ``PUT /v1/programmes``: replace them all (JSON body, or YAML with
  ``Content-Type: application/yaml``); invalid documents are refused with 422 naming each problem;
- ``POST /v1/programmes/import``: the same from an uploaded YAML file.

Programmes are kept in the process and, with Redis, under ``<prefix>:programmes``: every app
process reads that set at start, on ``GET`` and at most every 30 seconds while events arrive.
:func:`start` builds the planner, scheduler and automation listener in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request, Response, UploadFile
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from personalization.automation.engine import Automation
from personalization.automation.next_action import NextActionPlanner, QuietHours
from personalization.automation.programmes import (
    ProgrammeSet,
    dumps_programmes,
    load_programmes,
    loads_programmes,
    parse_programmes,
)
from personalization.automation.scheduler import (
    ActionRecord,
    MemoryScheduler,
    RedisScheduler,
    build_scheduler,
)
from personalization.clock import system_clock
from personalization.decisions.decider import PlannerAdvisor
from personalization.errors import InvalidProgramme
from personalization.store.redis_store import RedisStore
from service.routes.profiles import ProfileIdPath
from service.settings import Settings
from service.worker import Worker, build_reactions, build_webhook

log = logging.getLogger("kairos.automation")


YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def build_planner(settings: Settings, state: dict[str, Any]) -> NextActionPlanner:
    """The planner from ``settings``, with the content pool and store already in ``state``."""
    programmes = load_programmes(settings.programmes_file) if settings.programmes_file \
        else load_programmes()
    return NextActionPlanner(
        programmes,
        pool=state.get("content_pool"),
        caps=state["store"],
        quiet_hours=QuietHours(start=settings.quiet_hours_start, end=settings.quiet_hours_end),
        weekly_cap=settings.weekly_contact_cap,
        default_timezone=settings.default_timezone,
        default_language=settings.languages[0] if settings.languages else "de",
    )


async def start(settings: Settings, state: dict[str, Any]) -> None:
    """Build planner, scheduler and automation into ``state``; listen to the profile service.

    Adds ``next_action_planner``, ``scheduler``, ``automation`` (and, when the app publishes due
    steps itself, ``automation_worker``). Call :func:`stop` when the lifespan ends.
    """
    store = state["store"]
    planner = build_planner(settings, state)
    scheduler = build_scheduler(store, lease=timedelta(seconds=settings.action_lease_seconds))
    async def programmes_source() -> ProgrammeSet | None:
        return await _stored_programmes(scheduler)

    automation = Automation(planner, scheduler, clock=system_clock,
                            programmes_source=programmes_source)
    stored = await _stored_programmes(scheduler)
    if stored is not None:
        automation.replace(stored)
    profiles = state.get("profiles")
    if profiles is not None:
        profiles.add_listener(automation)
        profiles.add_eraser(scheduler.erase_person)  # schedule entries and published actions
    state["next_action_planner"] = planner
    decider = state.get("decider")
    if decider is not None:  # /v1/decide answers with the immediate next action
        decider.next_action = PlannerAdvisor(planner, profiles)
    state["scheduler"] = scheduler
    state["automation"] = automation
    in_app = settings.worker_in_app
    if in_app is None:
        in_app = not isinstance(store, RedisStore)
    if in_app:
        reactions = (build_reactions(profiles, name="in-app",
                                     batch_size=settings.worker_batch_size)
                     if profiles is not None else None)
        worker = Worker(scheduler, batch_size=settings.worker_batch_size,
                        poll_interval=settings.worker_poll_seconds,
                        webhook=build_webhook(settings), name="in-app", reactions=reactions)
        stop_event = asyncio.Event()
        task = asyncio.create_task(worker.run(stop_event))
        state["automation_worker"] = (worker, stop_event, task)


async def stop(state: dict[str, Any]) -> None:
    """Stop the in-app worker (after its batch in hand), if there is one."""
    running = state.pop("automation_worker", None)
    if running is None:
        return
    worker, stop_event, task = running
    stop_event.set()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if worker.webhook is not None:
        await worker.webhook.aclose()


# -- programmes shared through Redis ---------------------------------------------------------------
async def _stored_programmes(scheduler: MemoryScheduler | RedisScheduler) -> ProgrammeSet | None:
    if not isinstance(scheduler, RedisScheduler):
        return None
    try:
        raw = await scheduler.redis.get(scheduler.keys.shared("programmes"))
    except (RedisError, OSError) as exc:  # Redis may come back; the configured set serves now
        log.warning("stored programmes not read: %s", exc)
        return None
    if raw is None:
        return None
    try:
        return loads_programmes(raw)
    except InvalidProgramme as exc:  # written by an older version: keep the configured ones
        log.warning("stored programmes ignored: %s", exc)
        return None


async def _store_programmes(
    scheduler: MemoryScheduler | RedisScheduler, programmes: ProgrammeSet
) -> None:
    if isinstance(scheduler, RedisScheduler):
        await scheduler.redis.set(scheduler.keys.shared("programmes"), dumps_programmes(programmes))


# -- dependencies ---------------------------------------------------------------------------------
async def get_automation(request: Request) -> Automation:
    automation: Automation = request.state.automation
    return automation


AutomationDep = Annotated[Automation, Depends(get_automation)]


class ActionPublic(BaseModel):
    """One step of a person's automation, with what happened to it and why."""

    action_id: str
    programme: str
    step: str
    type: str
    status: Literal["pending", "sent", "cancelled", "suppressed"]
    channel: str
    send_at: str
    content_id: str | None
    priority: int
    incentive: bool
    transactional: bool
    reasons: list[str]
    note: str | None = Field(description="Why it was cancelled or suppressed.")
    outcome: str | None
    published_at: str | None
    created_at: str

    @classmethod
    def of(cls, record: ActionRecord) -> ActionPublic:
        data = record.model_dump(mode="json")
        return cls.model_validate({k: data[k] for k in cls.model_fields})


class PersonActions(BaseModel):
    profile_id: str
    pending: list[ActionPublic]
    past: list[ActionPublic]


class ProgrammesReplaced(BaseModel):
    programmes: list[str]


router = APIRouter(prefix="/v1", tags=["automation"])


@router.get("/profiles/{profile_id}/actions", summary="Pending and past actions of a person")
async def person_actions(profile_id: ProfileIdPath, automation: AutomationDep) -> PersonActions:
    """Pending steps by due time, then past ones (sent, cancelled, suppressed), newest first."""
    records = await automation.scheduler.actions(profile_id)
    return PersonActions(
        profile_id=profile_id,
        pending=[ActionPublic.of(r) for r in records if r.status == "pending"],
        past=[ActionPublic.of(r) for r in reversed(records) if r.status != "pending"],
    )


@router.get("/programmes", summary="The programmes in use", response_model=None)
async def list_programmes(request: Request, automation: AutomationDep) -> Response | ProgrammeSet:
    stored = await _stored_programmes(request.state.scheduler)
    if stored is not None and stored != automation.programmes:
        automation.replace(stored)  # another process replaced them
    if any(t in request.headers.get("accept", "") for t in YAML_TYPES):
        return Response(dumps_programmes(automation.programmes), media_type="application/yaml")
    return automation.programmes


@router.put("/programmes", summary="Replace every programme")
async def replace_programmes(request: Request, automation: AutomationDep) -> ProgrammesReplaced:
    """The body is ``{"programmes": [...]}`` as JSON, or YAML with a YAML content type."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if any(t in content_type for t in YAML_TYPES):
        programmes = loads_programmes(body)
    else:
        programmes = parse_programmes(_json(body))
    return await _replace(request, automation, programmes)


@router.post("/programmes/import", summary="Replace every programme from a YAML file")
async def import_programmes(
    request: Request, file: UploadFile, automation: AutomationDep
) -> ProgrammesReplaced:
    return await _replace(request, automation, loads_programmes(await file.read()))


async def _replace(
    request: Request, automation: Automation, programmes: ProgrammeSet
) -> ProgrammesReplaced:
    await _store_programmes(request.state.scheduler, programmes)
    automation.replace(programmes)
    return ProgrammesReplaced(programmes=[p.id for p in programmes])


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidProgramme([{"field": "body", "message": f"not valid JSON: {exc}"}]) from None


async def import_programmes_file(settings: Settings, path: str) -> ProgrammeSet:
    """``kairos automation import FILE``: validate, and store for every process when Redis is
    configured (running apps pick the set up on their next ``GET /v1/programmes`` or start).
    Raises :class:`InvalidProgramme`."""
    programmes = load_programmes(path)
    if settings.redis_url is not None:
        from service.app import build_store

        store = build_store(settings)
        try:
            await _store_programmes(build_scheduler(store), programmes)
        finally:
            await store.close()
    return programmes
