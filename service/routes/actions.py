"""Automation for admins: a person's actions, and the programmes (``/v1/...``).

- ``GET /v1/profiles/{id}/actions``: pending and past steps of the person, with their reasons;
- ``GET /v1/programmes``: the programmes in use (JSON, or YAML with ``Accept: application/yaml``);
- ``PUT /v1/programmes``: replace them all (JSON body, or YAML with
  ``Content-Type: application/yaml``); invalid documents are refused with 422 naming each problem;
- ``POST /v1/programmes/import``: the same from an uploaded YAML file;
- ``GET /v1/actions/dead-letters``: webhook deliveries parked after their last try, with the reason;
- ``POST /v1/actions/dead-letters/replay``: put some (``{"ids": [...]}``) or all
  (``{"all": true}``) back for delivery, with a fresh set of tries.

Programmes are kept in the process and, with Redis, under ``<prefix>:programmes``: every app
process reads that set at start, on ``GET`` and at most every 30 seconds while events arrive
(:mod:`service.programmes`). The automation itself is built by :mod:`service.components`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field, model_validator

from personalization.automation.action_record import ActionRecord
from personalization.automation.deliveries import DeadLetter
from personalization.automation.engine import Automation
from personalization.automation.programmes import (
    ProgrammeSet,
    dumps_programmes,
    loads_programmes,
    parse_programmes,
)
from personalization.clock import system_clock
from personalization.errors import InvalidProgramme
from service.backend import Backend
from service.deps import AutomationDep, BackendDep, DeliveriesDep
from service.programmes import store_programmes, stored_programmes
from service.routes.profiles import ProfileIdPath

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


class ActionPublic(BaseModel):
    """One step of a person's automation, with what happened to it and why."""

    action_id: str
    programme: str
    step: str
    type: str
    status: Literal["pending", "sent", "cancelled", "suppressed", "skipped"]
    channel: str
    send_at: str
    content_id: str | None
    priority: int
    incentive: bool
    transactional: bool
    reasons: list[str]
    note: str | None = Field(description="Why it was cancelled, suppressed or skipped.")
    outcome: str | None
    published_at: str | None
    expires_at: str | None = Field(
        default=None, description="Not sent later than this: its moment will have passed.")
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


class DeadLetterPublic(BaseModel):
    """A webhook delivery parked after its last try (or refused by the receiver)."""

    id: str = Field(description="The dead letter's id, for replay.")
    action_id: str = Field(description="Also the deliveries' Idempotency-Key.")
    profile_id: str
    error: str = Field(description="The last try's outcome, e.g. 'HTTP 503'.")
    attempts: int
    first_at: str = Field(description="When the action was published.")
    last_at: str = Field(description="When the last try failed.")
    action: dict[str, Any]

    @classmethod
    def of(cls, dead: DeadLetter) -> DeadLetterPublic:
        return cls.model_validate(dead.document())


class DeadLetters(BaseModel):
    dead_letters: list[DeadLetterPublic]


class ReplayRequest(BaseModel):
    """Which dead letters to deliver again: ``{"ids": [...]}`` or ``{"all": true}``."""

    ids: list[Annotated[str, Field(pattern=r"^[0-9]{1,20}-[0-9]{1,20}$")]] = Field(
        default_factory=list, max_length=10_000)
    all: bool = False

    @model_validator(mode="after")
    def _ids_or_all(self) -> ReplayRequest:
        if self.all == bool(self.ids):
            raise ValueError('give either "ids" (a list of dead-letter ids) or "all": true')
        return self


class Replayed(BaseModel):
    replayed: list[str] = Field(description="Ids put back for delivery.")
    not_found: list[str] = Field(description="Ids asked for that are not (or no longer) dead.")


router = APIRouter(prefix="/v1", tags=["automation"])


@router.get("/profiles/{profile_id}/actions", summary="Pending and past actions of a person")
async def person_actions(profile_id: ProfileIdPath, automation: AutomationDep) -> PersonActions:
    """Pending steps by due time, then past ones (sent, cancelled, suppressed, skipped), newest
    first."""
    records = await automation.scheduler.actions(profile_id)
    return PersonActions(
        profile_id=profile_id,
        pending=[ActionPublic.of(r) for r in records if r.status == "pending"],
        past=[ActionPublic.of(r) for r in reversed(records) if r.status != "pending"],
    )


@router.get("/actions/dead-letters", summary="Webhook deliveries that exhausted their tries")
async def dead_letters(
    deliveries: DeliveriesDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> DeadLetters:
    """Oldest first, with the reason (last status or error), attempts and times."""
    return DeadLetters(dead_letters=[DeadLetterPublic.of(d)
                                     for d in await deliveries.dead_letters(limit)])


@router.post("/actions/dead-letters/replay", summary="Deliver dead letters again")
async def replay_dead_letters(body: ReplayRequest, deliveries: DeliveriesDep) -> Replayed:
    """Each replayed delivery gets a fresh set of tries, starting now; its Idempotency-Key stays
    the action id, so a receiver that did get it once can drop it."""
    replayed = await deliveries.replay(None if body.all else body.ids, system_clock())
    return Replayed(replayed=replayed, not_found=[i for i in body.ids if i not in replayed])


@router.get("/programmes", summary="The programmes in use", response_model=None)
async def list_programmes(
    request: Request, automation: AutomationDep, backend: BackendDep
) -> Response | ProgrammeSet:
    stored = await stored_programmes(backend)
    if stored is not None and stored != automation.programmes:
        automation.replace(stored)  # another process replaced them
    if any(t in request.headers.get("accept", "") for t in YAML_TYPES):
        return Response(dumps_programmes(automation.programmes), media_type="application/yaml")
    return automation.programmes


@router.put("/programmes", summary="Replace every programme")
async def replace_programmes(
    request: Request, automation: AutomationDep, backend: BackendDep
) -> ProgrammesReplaced:
    """The body is ``{"programmes": [...]}`` as JSON, or YAML with a YAML content type."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if any(t in content_type for t in YAML_TYPES):
        programmes = loads_programmes(body)
    else:
        programmes = parse_programmes(_json(body))
    return await _replace(backend, automation, programmes)


@router.post("/programmes/import", summary="Replace every programme from a YAML file")
async def import_programmes(
    file: UploadFile, automation: AutomationDep, backend: BackendDep
) -> ProgrammesReplaced:
    return await _replace(backend, automation, loads_programmes(await file.read()))


async def _replace(
    backend: Backend, automation: Automation, programmes: ProgrammeSet
) -> ProgrammesReplaced:
    await store_programmes(backend, programmes)
    automation.replace(programmes)
    return ProgrammesReplaced(programmes=[p.id for p in programmes])


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidProgramme([{"field": "body", "message": f"not valid JSON: {exc}"}]) from None
