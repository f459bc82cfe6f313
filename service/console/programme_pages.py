"""Console page for automation programmes: read them, switch one on or off, edit the YAML.

The programmes are those ``/v1/programmes`` serves: the set stored for every process (read
first, as the API does), replaced as a whole. A YAML edit is checked by
:func:`personalization.automation.programmes.loads_programmes` (every problem is listed with its
place, and the text stays as typed); switching a programme on or off stores the set with that
one field changed. Either way every app process picks the new set up, as after ``PUT``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from personalization.automation.engine import Automation
from personalization.automation.programmes import (
    Programme,
    ProgrammeSet,
    dumps_programmes,
    format_duration,
    loads_programmes,
)
from personalization.errors import InvalidProgramme
from service.backend import Backend
from service.console.error_pages import error_page
from service.console.forms import text
from service.console.web import CsrfDep, SessionDep, page
from service.programmes import store_programmes, stored_programmes

router = APIRouter(prefix="/console/programmes", include_in_schema=False)

_MAX_YAML = 500_000


def _parts(request: Request) -> tuple[Automation, Backend]:
    components = request.state.components
    automation: Automation = components.automation
    backend: Backend = components.backend
    return automation, backend


async def _current(request: Request) -> ProgrammeSet:
    automation, backend = _parts(request)
    stored = await stored_programmes(backend)
    if stored is not None and stored != automation.programmes:
        automation.replace(stored)  # another process replaced them
    return automation.programmes


async def _replace(request: Request, programmes: ProgrammeSet) -> None:
    automation, backend = _parts(request)
    await store_programmes(backend, programmes)
    automation.replace(programmes)


def _trigger(programme: Programme) -> str:
    trigger = programme.trigger
    if trigger.event:
        return "event " + ", ".join(trigger.event)
    if trigger.lifecycle:
        return "lifecycle becomes " + ", ".join(str(s) for s in trigger.lifecycle)
    if trigger.phase:
        return "phase " + ", ".join(str(p) for p in trigger.phase)
    if trigger.moment:
        return "moment " + ", ".join(str(m) for m in trigger.moment)
    return f"date: {str(trigger.date).replace('_', ' ')}"


def _summary(programme: Programme) -> dict[str, Any]:
    steps = []
    for step in programme.steps:
        delay = "at once" if step.delay == timedelta(0) else "after " + format_duration(step.delay)
        follows = programme.parent_of(step)
        steps.append({
            "id": step.id, "type": step.type, "channels": [str(c) for c in step.channels],
            "when": delay + (f" ({step.when} of {follows.id})" if follows else ""),
            "incentive": step.incentive, "transactional": step.transactional,
        })  # fmt: skip
    return {"programme": programme, "trigger": _trigger(programme), "steps": steps,
            "who": _who(programme)}  # fmt: skip


def _who(programme: Programme) -> str:
    conditions = programme.conditions.model_dump(mode="json", exclude_defaults=True)
    joiner = " or " if conditions.pop("match", "all") == "any" else ", "
    parts = []
    for name, value in conditions.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value).lower()
        parts.append(f"{name.replace('_', ' ')}: {shown}")
    return joiner.join(parts) or "everyone"


def _page(
    request: Request, programmes: ProgrammeSet, yaml_text: str | None,
    errors: list[dict[str, str]], *, status_code: int = 200,
) -> Response:
    context = {
        "section": "programmes", "programmes": [_summary(p) for p in programmes],
        "text": yaml_text if yaml_text is not None else dumps_programmes(programmes),
        "errors": errors,
    }  # fmt: skip
    return page(request, "programmes.html", context, status_code=status_code)


@router.get("")
async def programmes_page(request: Request, session: SessionDep) -> Response:
    return _page(request, await _current(request), None, [])


@router.post("")
async def save_programmes(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    yaml_text = text(await request.form(), "yaml")[:_MAX_YAML]
    try:
        programmes = loads_programmes(yaml_text)
    except InvalidProgramme as exc:
        return _page(request, await _current(request), yaml_text, exc.errors, status_code=422)
    await _replace(request, programmes)
    return RedirectResponse("/console/programmes?saved=1", status_code=303)


@router.post("/{programme_id}/enabled")
async def switch_programme(
    request: Request, programme_id: str, session: SessionDep, _: CsrfDep
) -> Response:
    enabled = text(await request.form(), "enabled") == "true"
    current = await _current(request)
    if current.get(programme_id) is None:
        return error_page(request, 404)
    programmes = ProgrammeSet(programmes=[
        p.model_copy(update={"enabled": enabled}) if p.id == programme_id else p
        for p in current
    ])  # fmt: skip
    await _replace(request, programmes)
    state = "on" if enabled else "off"
    return RedirectResponse(f"/console/programmes?switched={programme_id}&state={state}",
                            status_code=303)  # fmt: skip
