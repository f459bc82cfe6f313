"""The interest taxonomy for admins (``/v1/taxonomy``).

- ``GET /v1/taxonomy``: the taxonomy in use (JSON; YAML with ``?format=yaml`` or
  ``Accept: application/yaml``);
- ``PUT /v1/taxonomy``: replace it (JSON body, or YAML with a YAML content type); an invalid
  taxonomy is a 422 naming each field and problem, dropping a category live content still names
  a 409 naming the items; nothing is stored then;
- ``GET /v1/taxonomy/categories``: the categories in short (id and labels).

The taxonomy is kept in the definitions store and read by every worker
(:mod:`intent.interest.shared_taxonomy`).
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from intent.errors import TaxonomyError
from intent.interest.taxonomy import Taxonomy, Text, dumps_taxonomy, loads_taxonomy, parse_taxonomy
from service.deps import TaxonomyDep

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


class CategoryBrief(BaseModel):
    """One category in short."""

    id: str
    labels: Text


class TaxonomyReplaced(BaseModel):
    categories: list[str]


router = APIRouter(prefix="/v1/taxonomy", tags=["taxonomy"])


@router.get("", summary="The taxonomy in use", response_model=None)
async def get_taxonomy(
    request: Request, taxonomy: TaxonomyDep, format: str | None = None
) -> Response | Taxonomy:
    current = await taxonomy.load()  # another worker may have replaced it
    wants_yaml = format == "yaml" or any(
        t in request.headers.get("accept", "") for t in YAML_TYPES
    )
    if wants_yaml:
        return Response(dumps_taxonomy(current), media_type="application/yaml")
    return current


@router.put("", summary="Replace the taxonomy")
async def put_taxonomy(request: Request, taxonomy: TaxonomyDep) -> TaxonomyReplaced:
    """The body is ``{"categories": [...], "neutral_words": {...}}`` as JSON, or YAML with a
    YAML content type."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if any(t in content_type for t in YAML_TYPES):
        new = loads_taxonomy(body, source="body")
    else:
        new = parse_taxonomy(_json(body), source="body")
    replaced = await taxonomy.replace(new)
    return TaxonomyReplaced(categories=list(replaced.ids))


@router.get("/categories", summary="The categories in short")
async def list_categories(taxonomy: TaxonomyDep) -> list[CategoryBrief]:
    current = await taxonomy.load()
    return [CategoryBrief(id=c.id, labels=c.labels) for c in current]


def _json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TaxonomyError(
            f"body: not valid JSON: {exc}", [{"field": "body", "message": f"not valid JSON: {exc}"}]
        ) from None
