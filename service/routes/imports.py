"""Large imports over HTTP (admin key): ``POST /v1/imports/profiles`` and ``/v1/imports/events``.

The body is the file itself (CSV or JSON Lines; ``?format=`` or the content type says which:
``text/csv``, ``application/x-ndjson`` / ``application/jsonl``). It is read as a stream and
imported record by record in batches, never held whole in memory, and answered with the summary
and the first rejections (line and reason). Re-sending the same file changes nothing. The format
of the rows is documented in :mod:`personalization.profiles.importing`.

Note: the body-size limit of the app (``KAIROS_MAX_BODY_BYTES``) must not apply to these routes;
``KAIROS_MAX_IMPORT_BYTES`` is theirs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from personalization.clock import system_clock
from personalization.profiles.importing import Format, Importer, Kind
from service.components import Components
from service.deps import ComponentsDep

router = APIRouter(prefix="/v1/imports", tags=["imports"])

_CONTENT_TYPES: dict[str, Format] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json-lines": "jsonl",
    "application/x-jsonlines": "jsonl",
}


class RejectionPublic(BaseModel):
    line: int
    id: str | None
    reason: str


class ImportResult(BaseModel):
    """What the import did; ``rejections`` lists the first ones (``rejections_truncated``)."""

    kind: Literal["profiles", "events"]
    read: int
    valid: int
    created: int
    updated: int
    skipped: int
    rejected: int
    rejections: list[RejectionPublic]
    rejections_truncated: bool
    ignored_columns: list[str]


def _format(request: Request, given: Format | None) -> Format:
    if given is not None:
        return given
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    found = _CONTENT_TYPES.get(content_type)
    if found is None:
        raise HTTPException(
            415, "Say the format: ?format=csv or ?format=jsonl, or send Content-Type text/csv "
                 "or application/x-ndjson.",
        )  # fmt: skip
    return found


async def _body(request: Request, limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise HTTPException(413, f"The upload is over {limit} bytes; split the file.")
        yield chunk


async def _import(
    request: Request, components: Components, kind: Kind, fmt: Format | None
) -> ImportResult:
    settings = components.settings
    importer = Importer(components.store, policy=components.profiles.policy, clock=system_clock,
                        batch_size=settings.import_batch_size)  # fmt: skip
    summary = await importer.run(
        kind, _body(request, settings.max_import_bytes), _format(request, fmt)
    )
    return ImportResult(
        kind=summary.kind, read=summary.read, valid=summary.valid, created=summary.created,
        updated=summary.updated, skipped=summary.skipped, rejected=summary.rejected,
        rejections=[RejectionPublic(**r.as_dict()) for r in summary.rejections],
        rejections_truncated=summary.rejected > len(summary.rejections),
        ignored_columns=summary.ignored_columns,
    )  # fmt: skip


FormatQuery = Annotated[Format | None, Query(alias="format", description="csv or jsonl")]


@router.post("/profiles")
async def import_profiles(
    request: Request, components: ComponentsDep, fmt: FormatQuery = None
) -> ImportResult:
    """Import a CRM export (one customer per row), streamed; idempotent."""
    return await _import(request, components, "profiles", fmt)


@router.post("/events")
async def import_events(
    request: Request, components: ComponentsDep, fmt: FormatQuery = None
) -> ImportResult:
    """Import a shop's order export (one order per row) or Kairos events, streamed; idempotent."""
    return await _import(request, components, "events", fmt)
