"""Console pages for profiles: find a person by id, see what Kairos knows, export, erase.

One profile's page shows its events newest first, the affinities (0–1, as decisions read them
now), the lifecycle and its changes, consents per purpose, known and inferred attributes,
purchases and cart, and the automation's planned and past steps with what happened to them
(sent, suppressed, skipped, with the note why). Export is the document ``GET
/v1/profiles/{id}/export`` returns, as a file; erasure (:meth:`ProfileService.erase`, like
``DELETE /v1/profiles/{id}``) asks for the id to be typed again first.
"""

from __future__ import annotations

import random
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from personalization.automation.engine import Automation
from personalization.errors import ProfileNotFound
from personalization.experiments.segments import ProfileSampler
from personalization.profiles.document import from_document
from personalization.profiles.events import Purpose
from personalization.profiles.ids import PROFILE_ID_PATTERN
from personalization.profiles.profile import Profile
from personalization.profiles.service import ProfileService
from service.console.error_pages import error_page
from service.console.forms import text
from service.console.web import CsrfDep, SessionDep, page

router = APIRouter(prefix="/console/profiles", include_in_schema=False)

_ID = re.compile(PROFILE_ID_PATTERN)
TIMELINE = 200
SAMPLE = 20
_EVENT_KEYS = ("event_id", "type", "timestamp", "profile_id", "anonymous_id", "session_id")


def _service(request: Request) -> ProfileService:
    profiles: ProfileService = request.state.components.profiles
    return profiles


def _labels(request: Request) -> dict[str, str]:
    taxonomy = request.state.components.taxonomy.current
    return {c.id: c.labels.en for c in taxonomy.categories}


@router.get("")
async def find_profiles(request: Request, session: SessionDep, q: str = "") -> Response:
    wanted = q.strip()
    missing = None
    if wanted:
        if _ID.match(wanted) and await _service(request).find(wanted) is not None:
            return RedirectResponse(f"/console/profiles/{quote(wanted)}", status_code=303)
        missing = wanted
    sampler: ProfileSampler = request.state.components.profile_sampler
    total, documents = await sampler.sample(SAMPLE, random.Random())
    sample: list[Profile] = []
    for document in documents:
        try:
            sample.append(from_document(document))
        except ValueError:
            continue
    sample.sort(key=lambda p: p.last_seen_at or p.updated_at, reverse=True)
    context = {"section": "profiles", "q": wanted, "missing": missing, "sample": sample,
               "total": total, "erased": request.query_params.get("erased")}  # fmt: skip
    return page(request, "profiles.html", context, status_code=404 if missing else 200)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _event_row(document: dict[str, Any]) -> dict[str, Any]:
    """An event for the timeline: its type, time, and its other fields as ``key: value``."""
    rest = {k: v for k, v in document.items() if k not in _EVENT_KEYS}
    properties = rest.pop("properties", None)
    fields = {**(properties if isinstance(properties, dict) else {}), **rest}
    details = " · ".join(f"{key}: {_shown(value)}" for key, value in fields.items())
    return {"type": document.get("type", "?"), "timestamp": str(document.get("timestamp", "")),
            "details": details}  # fmt: skip


@router.get("/{profile_id}")
async def profile_page(request: Request, profile_id: str, session: SessionDep) -> Response:
    service = _service(request)
    profile = await service.find(profile_id) if _ID.match(profile_id) else None
    if profile is None:
        return error_page(request, 404)
    now: datetime = service.clock()
    events = await service.store.events(profile_id, limit=TIMELINE)
    automation: Automation = request.state.components.automation
    records = await automation.scheduler.actions(profile_id)
    labels = _labels(request)
    context = {
        "section": "profiles", "profile": profile, "now": now,
        "affinities": [(topic, labels.get(topic, topic), level)
                       for topic, level in profile.affinities.current(now).items()],
        "consents": [(purpose, profile.consent.get(purpose)) for purpose in Purpose],
        "events": [_event_row(e) for e in reversed(events)], "timeline_limit": TIMELINE,
        "pending": [r for r in records if r.status == "pending"],
        "past": [r for r in reversed(records) if r.status != "pending"],
        "recency": profile.rfm.recency_days(now),
    }  # fmt: skip
    return page(request, "profile.html", context)


@router.get("/{profile_id}/export")
async def export_profile(request: Request, profile_id: str, session: SessionDep) -> Response:
    """Everything stored about the person, as a JSON file (the API's export document)."""
    if not _ID.match(profile_id):
        return error_page(request, 404)
    try:
        document = await _service(request).export(profile_id)
    except ProfileNotFound:
        return error_page(request, 404)
    filename = f"kairos-profile-{re.sub(r'[^A-Za-z0-9._-]', '_', profile_id)}.json"
    return Response(
        orjson.dumps(document, option=orjson.OPT_INDENT_2), media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )  # fmt: skip


@router.get("/{profile_id}/erase")
async def confirm_erase(request: Request, profile_id: str, session: SessionDep) -> Response:
    profile = await _service(request).find(profile_id) if _ID.match(profile_id) else None
    if profile is None:
        return error_page(request, 404)
    return page(request, "profile_erase.html",
                {"section": "profiles", "profile": profile, "error": None})  # fmt: skip


@router.post("/{profile_id}/erase")
async def erase_profile(
    request: Request, profile_id: str, session: SessionDep, _: CsrfDep
) -> Response:
    service = _service(request)
    profile = await service.find(profile_id) if _ID.match(profile_id) else None
    if profile is None:
        return error_page(request, 404)
    if text(await request.form(), "confirm").strip() != profile_id:
        error = "Type the profile id exactly as shown to confirm; nothing was erased."
        return page(request, "profile_erase.html",
                    {"section": "profiles", "profile": profile, "error": error},
                    status_code=422)  # fmt: skip
    await service.erase(profile_id)
    return RedirectResponse(f"/console/profiles?erased={quote(profile_id)}", status_code=303)
