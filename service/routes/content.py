"""The content pool for marketers: CRUD with versions, preview and validation (``/v1/content``).

Every write goes through :class:`~content_pool.catalog.ContentCatalog`, shared with the console:
it validates the template in the sandbox against the sample context first (422 with line and
reason when it fails) and creates a new version; ``DELETE`` archives (a new version
with ``status="archived"``), ``DELETE .../history`` forgets the item and all its versions.
After a write the process's own :class:`~content_pool.pool.ContentPool` (``state.content_pool``,
when there is one) takes the change in at once; other workers see it at their next refresh.

Errors are domain errors; :data:`CONTENT_PROBLEMS` is their HTTP mapping for
``service/problems.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from content_pool.catalog import ContentQuery
from content_pool.errors import (
    FieldError,
    InvalidContent,
)
from content_pool.models import (
    HTML_CHANNELS,
    Channel,
    ContentDraft,
    ContentFields,
    ContentItem,
    ContentPatch,
    Moment,
    Phase,
    Status,
)
from content_pool.render import (
    SAMPLE_FIRST_NAME,
    SAMPLE_PROFILE,
    SAMPLE_SITUATION,
    template_variables,
)
from service.deps import CatalogDep, ContentStoreDep, RendererDep

ExpectedVersion = Annotated[
    int | None,
    Query(ge=0, description="Only apply the change if the item is at this version (else 409)."),
]

router = APIRouter(prefix="/v1/content", tags=["content"])


class RenderContextIn(BaseModel):
    """What a preview renders with; each part falls back to the documented sample."""

    model_config = ConfigDict(extra="forbid")

    situation: dict[str, Any] = Field(default_factory=lambda: dict(SAMPLE_SITUATION))
    profile: dict[str, Any] = Field(default_factory=lambda: dict(SAMPLE_PROFILE))
    first_name: str | None = SAMPLE_FIRST_NAME
    consent: bool = True


class PreviewRequest(BaseModel):
    """Render a stored item (``item_id``, optionally a ``version``) or an unsaved template
    (``template`` and ``channel``); a ``template`` given with ``item_id`` replaces the stored one.
    """

    model_config = ConfigDict(extra="forbid")

    item_id: str | None = None
    version: int | None = Field(default=None, ge=1)
    template: str | None = Field(default=None, max_length=20_000)
    channel: Channel | None = None
    language: str = Field(default="de", pattern=r"^[a-z]{2}$")
    context: RenderContextIn = Field(default_factory=RenderContextIn)


class PreviewOut(BaseModel):
    output: str
    format: Literal["html", "text"]
    channel: Channel
    item_id: str | None


class FieldErrorOut(BaseModel):
    field: str
    message: str


class ValidationReport(BaseModel):
    valid: bool
    errors: list[FieldErrorOut]


@router.get("", summary="List content items")
async def list_content(
    catalog: CatalogDep,
    slot: str | None = None,
    channel: Channel | None = None,
    language: str | None = None,
    phase: Annotated[Phase | None, Query(description="Items that serve this phase.")] = None,
    moment: Annotated[Moment | None, Query(description="Items that serve this moment.")] = None,
    category: Annotated[str | None, Query(description="Items of this category.")] = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    q: Annotated[
        str | None, Query(description="Text in id, title, tags, categories or template.")
    ] = None,
) -> list[ContentItem]:
    """Current versions, ordered by id. ``phase``/``moment`` match items targeting them and
    items that do not restrict that dimension (see :mod:`content_pool.catalog`)."""
    query = ContentQuery(
        text=q, slot=slot, channel=channel, language=language, status=status_, phase=phase,
        moment=moment, category=category,
    )  # fmt: skip
    return await catalog.find(query)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a content item")
async def create_content(draft: ContentDraft, catalog: CatalogDep) -> ContentItem:
    """Create version 1. 409 if the id exists, 422 if the template is rejected."""
    return await catalog.save(draft, expected_version=0)


@router.post("/preview", summary="Render a template as a given visitor")
async def preview_content(
    body: PreviewRequest, store: ContentStoreDep, renderer: RendererDep
) -> PreviewOut:
    if body.item_id is not None:
        base: ContentDraft = await store.get(body.item_id, body.version)
    elif body.template is not None and body.channel is not None:
        base = ContentDraft(
            id="preview", title="Preview", slot="preview", channel=body.channel,
            language=body.language, template=body.template,
        )  # fmt: skip
    else:
        raise InvalidContent([FieldError("item_id", "give an item_id, or template and channel")])
    channel = body.channel or base.channel
    variables = template_variables(
        base,
        situation=body.context.situation,
        profile=body.context.profile,
        first_name=body.context.first_name,
        consent=body.context.consent,
    )
    output = renderer.preview(body.template or base.template, channel, variables)
    fmt: Literal["html", "text"] = "html" if channel in HTML_CHANNELS else "text"
    return PreviewOut(output=output, format=fmt, channel=channel, item_id=body.item_id)


@router.post("/validate", summary="Check an item without saving it")
async def validate_content(
    catalog: CatalogDep, body: Annotated[dict[str, Any], Body()]
) -> ValidationReport:
    """Always 200: ``valid`` and every problem found (fields, audience condition, template)."""
    _, errors = catalog.check(body)
    return ValidationReport(
        valid=not errors, errors=[FieldErrorOut(field=e.loc, message=e.message) for e in errors]
    )


@router.get("/{item_id}", summary="Get a content item")
async def get_content(
    item_id: str,
    store: ContentStoreDep,
    version: Annotated[int | None, Query(ge=1, description="An earlier version.")] = None,
) -> ContentItem:
    return await store.get(item_id, version)


@router.get("/{item_id}/history", summary="Every version of a content item, oldest first")
async def content_history(item_id: str, store: ContentStoreDep) -> list[ContentItem]:
    return await store.history(item_id)


@router.put("/{item_id}", summary="Replace a content item (new version)")
async def replace_content(
    item_id: str,
    fields: ContentFields,
    catalog: CatalogDep,
    expected_version: ExpectedVersion = None,
) -> ContentItem:
    """Creates the item if it does not exist (unless ``expected_version`` says otherwise)."""
    return await catalog.save(fields.with_id(item_id), expected_version)


@router.patch("/{item_id}", summary="Change some fields of a content item (new version)")
async def patch_content(
    item_id: str,
    patch: ContentPatch,
    catalog: CatalogDep,
    expected_version: ExpectedVersion = None,
) -> ContentItem:
    return await catalog.patch(item_id, patch, expected_version)


@router.delete("/{item_id}", summary="Archive a content item (new version)")
async def archive_content(
    item_id: str, catalog: CatalogDep, expected_version: ExpectedVersion = None
) -> ContentItem:
    return await catalog.archive(item_id, expected_version)


@router.delete(
    "/{item_id}/history",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Forget a content item and all its versions",
)
async def purge_content(item_id: str, catalog: CatalogDep) -> Response:
    await catalog.purge(item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
