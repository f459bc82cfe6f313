"""The console's taxonomy page: the categories the interest of the moment is read against.

It lists each category with its German and English labels, synonyms and path segments, and
takes the whole taxonomy as YAML in a textarea. A save is checked exactly as ``PUT
/v1/taxonomy`` checks it (:func:`intent.interest.taxonomy.loads_taxonomy`, then
:meth:`intent.interest.shared_taxonomy.SharedTaxonomy.replace`, which refuses to drop a category
live content still names); problems are shown on the page with the text as it was sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from intent.errors import TaxonomyError, TaxonomyInUse
from intent.interest.shared_taxonomy import SharedTaxonomy
from intent.interest.taxonomy import dumps_taxonomy, loads_taxonomy
from service.console.web import CsrfDep, SessionDep, page

router = APIRouter(prefix="/console", include_in_schema=False)

_MAX_YAML = 500_000


def _shared(request: Request) -> SharedTaxonomy:
    shared: SharedTaxonomy = request.state.components.taxonomy
    return shared


@router.get("/taxonomy")
async def taxonomy_page(request: Request, session: SessionDep) -> Response:
    current = await _shared(request).load()
    context: dict[str, Any] = {"section": "taxonomy", "taxonomy": current,
                               "text": dumps_taxonomy(current), "errors": []}  # fmt: skip
    return page(request, "taxonomy.html", context)


@router.post("/taxonomy")
async def save_taxonomy(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    shared = _shared(request)
    form = await request.form()
    text = str(form.get("yaml") or "")[:_MAX_YAML]
    errors: list[dict[str, str]]
    try:
        await shared.replace(loads_taxonomy(text, source="taxonomy"))
    except (TaxonomyError, TaxonomyInUse) as exc:
        errors = exc.errors or [{"field": "", "message": str(exc)}]
        context: dict[str, Any] = {"section": "taxonomy", "taxonomy": shared.current,
                                   "text": text, "errors": errors, "detail": str(exc)}  # fmt: skip
        return page(request, "taxonomy.html", context, status_code=422)
    return RedirectResponse("/console/taxonomy?saved=1", status_code=303)
