"""Console pages for segments: list with their sizes, build with a live size, edit, delete.

While the marketer types a condition, htmx posts it to ``/console/segments/check``: a condition
that does not compile (or names a topic the taxonomy does not know) is shown with the place of
the problem marked; one that compiles is estimated on a random sample of stored profiles
(:meth:`personalization.experiments.segments.Segments.estimate`, as ``GET
/v1/segments/{name}/size`` does for a saved one). Saving goes through
:meth:`~personalization.experiments.segments.Segments.put`, the API's path.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from content_pool.errors import ExpressionError
from personalization.errors import InvalidSegment, SegmentNotFound
from personalization.experiments.segments import (
    ProfileSampler,
    Segment,
    SegmentFields,
    Segments,
    SegmentSize,
)
from service.console.error_pages import error_page
from service.console.forms import field_errors, text
from service.console.web import CsrfDep, SessionDep, page

router = APIRouter(prefix="/console/segments", include_in_schema=False)

EXAMPLES = (
    'profile.orders >= 3 and affinity("hiking") > 0.5',
    'profile.lifecycle == "lapsed" and profile.monetary > 200',
    "profile.has_cart and not profile.known",
    'profile.language == "en" and device.type == "mobile"',
)


def _segments(request: Request) -> Segments:
    segments: Segments = request.state.components.segments
    return segments


def _sampler(request: Request) -> ProfileSampler:
    sampler: ProfileSampler = request.state.components.profile_sampler
    return sampler


def _sample_size(request: Request) -> int:
    return int(request.app.state.settings.segment_sample_size)


def _problem(exc: ExpressionError) -> dict[str, Any]:
    """An expression error as the page shows it: the reason and the condition split at the
    position of the problem."""
    source, at = exc.source, max(0, min(exc.position, len(exc.source)))
    return {"field": "condition", "message": f"{exc.reason} (at character {at + 1})",
            "before": source[:at], "at": source[at : at + 1] or " ",
            "after": source[at + 1 :]}  # fmt: skip


def _size_text(size: SegmentSize) -> dict[str, Any]:
    return {"estimate": size.estimate, "low": size.low, "high": size.high, "exact": size.exact,
            "sampled": size.sampled, "profiles": size.profiles}  # fmt: skip


@router.get("")
async def list_segments(request: Request, session: SessionDep) -> Response:
    segments = await _segments(request).all()
    return page(request, "segments.html", {"section": "segments", "segments": segments})


@router.get("/new")
async def new_segment(request: Request, session: SessionDep) -> Response:
    values = {"name": "", "description": "", "condition": ""}
    return _form(request, values, None, [], None)


def _form(
    request: Request,
    values: dict[str, str],
    segment: Segment | None,
    errors: list[dict[str, Any]],
    size: dict[str, Any] | None,
    *,
    status_code: int = 200,
) -> Response:
    context = {"section": "segments", "values": values, "segment": segment, "errors": errors,
               "size": size, "examples": EXAMPLES}  # fmt: skip
    return page(request, "segment_edit.html", context, status_code=status_code)


@router.get("/{name}")
async def edit_segment(request: Request, name: str, session: SessionDep) -> Response:
    try:
        segment = await _segments(request).get(name)
    except SegmentNotFound:
        return error_page(request, 404)
    values = {"name": segment.name, "description": segment.description,
              "condition": segment.condition}  # fmt: skip
    return _form(request, values, segment, [], None)


@router.get("/{name}/size")
async def segment_size(request: Request, name: str, session: SessionDep) -> Response:
    """The size cell of the list (htmx)."""
    try:
        size = await _segments(request).size(name, _sampler(request),
                                             sample_size=_sample_size(request))  # fmt: skip
    except (SegmentNotFound, ExpressionError):
        return page(request, "segment_size.html", {"size": None})
    return page(request, "segment_size.html", {"size": _size_text(size)})


async def _check(request: Request, condition: str) -> tuple[list[dict[str, Any]], Any]:
    segments = _segments(request)
    if not condition.strip():
        return [{"field": "condition", "message": "Write a condition, e.g. " + EXAMPLES[0]}], None
    try:
        segments.check(condition)
        # One seed: the same sample for every keystroke, so the estimate moves with the
        # condition only, not with the draw.
        size = await segments.estimate(condition, _sampler(request),
                                       sample_size=_sample_size(request), seed=0)  # fmt: skip
    except ExpressionError as exc:
        return [_problem(exc)], None
    return [], _size_text(size)


@router.post("/check")
async def check_condition(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    """The live check while typing: the problem with its place, or the size (htmx partial)."""
    condition = text(await request.form(), "condition")[:2000]
    errors, size = await _check(request, condition)
    return page(request, "segment_check.html", {"errors": errors, "size": size})


@router.post("")
async def save_segment(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    form = await request.form()
    values = {"name": text(form, "name").strip(), "description": text(form, "description"),
              "condition": text(form, "condition")}  # fmt: skip
    original = text(form, "original")
    segments = _segments(request)
    existing = None
    if original:
        try:
            existing = await segments.get(original)
        except SegmentNotFound:
            return error_page(request, 404)
        values["name"] = original  # a segment is renamed by creating another
    errors, size = await _check(request, values["condition"])
    if not errors:
        try:
            fields = SegmentFields(description=values["description"],
                                   condition=values["condition"])  # fmt: skip
            if existing is None and values["name"] in {s.name for s in await segments.all()}:
                raise InvalidSegment(f"a segment named {values['name']!r} exists already: "
                                     "open it from the list to change it")  # fmt: skip
            await segments.put(values["name"], fields)
        except ValidationError as exc:
            errors = field_errors(exc)
        except InvalidSegment as exc:
            errors = [{"field": "name", "message": str(exc)}]
    if errors:
        return _form(request, values, existing, errors, size, status_code=422)
    return RedirectResponse(f"/console/segments?saved={values['name']}", status_code=303)


@router.post("/{name}/delete")
async def delete_segment(request: Request, name: str, session: SessionDep, _: CsrfDep) -> Response:
    try:
        await _segments(request).delete(name)
    except SegmentNotFound:
        return error_page(request, 404)
    return RedirectResponse(f"/console/segments?deleted={name}", status_code=303)
