"""Console pages for the content pool: list and filter, create and edit with live checks.

The edit form is checked while the marketer types (htmx posts it to ``/console/content/check``):
field rules, the audience condition and the template in the sandbox, and a rendered preview for
a German and an English visitor (and of the item's sibling in the other language, when one
exists: ``x-de`` / ``x-en``). Checking, saving and the list filter are those of ``/v1/content``
(:mod:`content_pool.catalog`); a save creates a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from content_pool.catalog import ContentCatalog, ContentQuery
from content_pool.errors import ContentNotFound, FieldError, InvalidContent, VersionConflict
from content_pool.models import (
    CHANNELS,
    HTML_CHANNELS,
    MOMENTS,
    PHASES,
    ContentDraft,
    ContentItem,
)
from content_pool.render import (
    SAMPLE_FIRST_NAME,
    SAMPLE_PROFILE,
    SAMPLE_SITUATION,
    Renderer,
    template_variables,
)
from content_pool.storage import ContentStore
from personalization.decisions.ranking import LIFECYCLE_STAGES
from service.console.web import CsrfDep, SessionDep, page
from service.deps import catalog_of

router = APIRouter(prefix="/console/content", include_in_schema=False)

STATUSES = ("draft", "live", "archived")
_LANG_SUFFIXES = {"de": "en", "en": "de"}


def _store(request: Request) -> ContentStore:
    store: ContentStore = request.state.components.content_store
    return store


def _renderer(request: Request) -> Renderer:
    renderer: Renderer = request.state.components.content_renderer
    return renderer


def _catalog(request: Request) -> ContentCatalog:
    return catalog_of(request.state.components)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _datetime(value: str | None) -> str | None:
    # <input type="datetime-local"> has no zone: the console states and uses UTC.
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()


def _int(value: str | None) -> int | str | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        return value  # pydantic names the field and the reason


def draft_data(form: FormData | Mapping[str, Any]) -> dict[str, Any]:
    """The raw draft (``ContentDraft`` fields) a console form describes."""

    def get(name: str) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) else None

    def many(name: str) -> list[str]:
        if isinstance(form, FormData):
            return [v for v in form.getlist(name) if isinstance(v, str)]
        value = form.get(name)
        return list(value) if isinstance(value, list) else []

    try:
        valid_from, valid_to = _datetime(get("valid_from")), _datetime(get("valid_to"))
    except ValueError:
        valid_from, valid_to = get("valid_from"), get("valid_to")
    return {
        "id": (get("id") or "").strip(),
        "title": get("title") or "",
        "slot": (get("slot") or "").strip(),
        "channel": get("channel") or "web",
        "language": (get("language") or "").strip(),
        "template": get("template") or "",
        "targeting": {
            "phases": many("phases"),
            "moments": many("moments"),
            "lifecycle_stages": many("lifecycle_stages"),
            "categories": _split(get("categories")),
            "audience": get("audience") or None,
        },
        "priority": _int(get("priority")) if get("priority") else 50,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "frequency_cap": {"per_day": _int(get("cap_day")), "per_week": _int(get("cap_week"))},
        "tags": _split(get("tags")),
        "is_default": get("is_default") == "on",
        "status": get("status") or "draft",
    }


def _preview(renderer: Renderer, draft: ContentDraft, language: str) -> dict[str, Any]:
    situation = {**SAMPLE_SITUATION, "language": language}
    variables = template_variables(
        draft, situation=situation, profile=SAMPLE_PROFILE, first_name=SAMPLE_FIRST_NAME,
        consent=True,
    )  # fmt: skip
    try:
        output = renderer.preview(draft.template, draft.channel, variables)
    except InvalidContent as exc:
        return {"language": language, "error": "; ".join(e.message for e in exc.field_errors)}
    return {"language": language, "output": output, "html": draft.channel in HTML_CHANNELS}


def _sibling_id(item_id: str) -> str | None:
    for own, other in _LANG_SUFFIXES.items():
        if item_id.endswith(f"-{own}"):
            return item_id[: -len(own)] + other
    return None


async def _sibling(store: ContentStore, draft: ContentDraft) -> ContentItem | None:
    sibling_id = _sibling_id(draft.id)
    if sibling_id is None:
        return None
    try:
        return await store.get(sibling_id)
    except ContentNotFound:
        return None


def _form_values(
    item: ContentDraft | None, data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What the edit form shows: a stored item, or what was typed (after a failed save)."""
    if data is None and item is not None:
        data = item.model_dump(mode="json")
    data = dict(data or {})
    targeting = data.get("targeting") or {}
    cap = data.get("frequency_cap") or {}

    def local(value: Any) -> str:
        if not value:
            return ""
        parsed = datetime.fromisoformat(str(value))
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if parsed.tzinfo else str(value)

    def loose_local(value: Any) -> str:
        try:
            return local(value)
        except ValueError:
            return str(value)

    return {
        "id": data.get("id", ""),
        "title": data.get("title", ""),
        "slot": data.get("slot", ""),
        "channel": data.get("channel", "web"),
        "language": data.get("language", "de"),
        "template": data.get("template", ""),
        "phases": targeting.get("phases", []),
        "moments": targeting.get("moments", []),
        "lifecycle_stages": targeting.get("lifecycle_stages", []),
        "categories": ", ".join(targeting.get("categories", [])),
        "audience": targeting.get("audience") or "",
        "priority": data.get("priority", 50),
        "valid_from": loose_local(data.get("valid_from")),
        "valid_to": loose_local(data.get("valid_to")),
        "cap_day": cap.get("per_day") or "",
        "cap_week": cap.get("per_week") or "",
        "tags": ", ".join(data.get("tags", [])),
        "is_default": bool(data.get("is_default")),
        "status": data.get("status", "draft"),
    }


def _choices() -> dict[str, Any]:
    return {
        "phases": PHASES, "moments": MOMENTS, "channels": CHANNELS,
        "lifecycle_stages": LIFECYCLE_STAGES, "statuses": STATUSES,
    }  # fmt: skip


@router.get("")
async def content_list(request: Request, session: SessionDep) -> Response:
    """All items, filtered by the query (``q``, ``slot``, ``phase``, ``moment``, ``status``,
    ``language``, ``channel``, ``category``: :class:`ContentQuery`); an htmx request gets only
    the table."""
    items = await _store(request).all()
    params = dict(request.query_params)
    shown = ContentQuery.from_params(params).select(items)
    context = {
        "section": "content", "items": shown, "total": len(items), "params": params,
        "slots": sorted({i.slot for i in items}),
        "categories": sorted({c for i in items for c in i.targeting.categories}), **_choices(),
    }  # fmt: skip
    name = "content_table.html" if request.headers.get("hx-target") == "content-table" else (
        "content_list.html"
    )
    return page(request, name, context)


@router.get("/new")
async def content_new(request: Request, session: SessionDep) -> Response:
    values = _form_values(None, {"status": "draft", "channel": "web", "language": "de"})
    return page(request, "content_edit.html", {
        "section": "content", "values": values, "item": None, "errors": [], **_choices(),
    })  # fmt: skip


@router.get("/{item_id}")
async def content_edit(request: Request, item_id: str, session: SessionDep) -> Response:
    item = await _store(request).get(item_id)
    history = await _store(request).history(item_id)
    return page(request, "content_edit.html", {
        "section": "content", "values": _form_values(item), "item": item, "errors": [],
        "history": list(reversed(history)), **_choices(),
    })  # fmt: skip


@router.post("/check")
async def content_check(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    """Live validation and preview of the edit form (an htmx fragment)."""
    renderer = _renderer(request)
    draft, errors = _catalog(request).check(draft_data(await request.form()))
    previews: list[dict[str, Any]] = []
    sibling = None
    if draft is not None:
        previews = [_preview(renderer, draft, language) for language in ("de", "en")]
        found = await _sibling(_store(request), draft)
        if found is not None:
            sibling = {"item": found, **_preview(renderer, found, found.language)}
    return page(request, "content_check.html", {
        "errors": errors, "previews": previews, "sibling": sibling, "valid": draft is not None,
    })  # fmt: skip


@router.post("")
async def content_create(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    return await _save(request, None)


@router.post("/{item_id}")
async def content_update(
    request: Request, item_id: str, session: SessionDep, _: CsrfDep
) -> Response:
    return await _save(request, item_id)


async def _save(request: Request, item_id: str | None) -> Response:
    form = await request.form()
    data = draft_data(form)
    if item_id is not None:
        data["id"] = item_id
    expected = 0
    if item_id is not None:
        raw = form.get("version")
        expected = int(raw) if isinstance(raw, str) and raw.isdigit() else 0
    catalog = _catalog(request)
    draft, errors = catalog.check(data)
    if draft is not None:
        try:
            await catalog.save(draft, expected_version=expected)
        except VersionConflict as exc:
            errors = [FieldError("", str(exc))]
        except InvalidContent as exc:
            errors = exc.field_errors
        else:
            return RedirectResponse(f"/console/content/{draft.id}?saved=1", status_code=303)
    item = await _current(request, item_id)
    return page(request, "content_edit.html", {
        "section": "content", "values": _form_values(None, data), "item": item,
        "errors": errors, **_choices(),
    }, status_code=422)  # fmt: skip


async def _current(request: Request, item_id: str | None) -> ContentItem | None:
    if item_id is None:
        return None
    try:
        return await _store(request).get(item_id)
    except ContentNotFound:
        return None
