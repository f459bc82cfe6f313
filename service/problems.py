"""Errors as ``application/problem+json`` (RFC 9457), mapped in one place.

Domain packages raise their own exceptions; :data:`PROBLEMS` says which HTTP status and title each
one means, looked up along the exception's MRO so subclasses inherit their parent's mapping.
Caller mistakes become 4xx with the exception's message, which is written for a person to act on;
anything unmapped is a 500 that is logged with the request id and says nothing internal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from content_pool import errors as content_errors
from intent import errors as intent_errors
from personalization import errors as personalization_errors

log = logging.getLogger("kairos.problems")

PROBLEM_JSON = "application/problem+json"

PROBLEMS: Mapping[type[BaseException], tuple[int, str]] = MappingProxyType({
    # intent/
    intent_errors.InvalidContext: (422, "Invalid context"),
    intent_errors.TrainingDataError: (422, "Invalid training data"),
    intent_errors.UnknownIntent: (404, "Unknown intent"),
    intent_errors.ModelNotReady: (503, "Intent model not ready"),
    intent_errors.TrainingJobNotFound: (404, "Training job not found"),
    intent_errors.UnknownEncoder: (422, "Unknown encoder"),
    intent_errors.TaxonomyError: (422, "Invalid taxonomy"),
    intent_errors.TaxonomyInUse: (409, "Category still in use"),
    intent_errors.IntentError: (400, "Intent request failed"),
    # personalization/
    personalization_errors.ProfileNotFound: (404, "Profile not found"),
    personalization_errors.DecisionNotFound: (404, "Decision not found"),
    personalization_errors.InvalidEvent: (422, "Invalid event"),
    personalization_errors.ConflictError: (409, "Concurrent update"),
    personalization_errors.StoreUnavailable: (503, "Store unavailable"),
    personalization_errors.InvalidProgramme: (422, "Invalid programmes"),
    personalization_errors.ABTestNotFound: (404, "A/B test not found"),
    personalization_errors.ABTestConflict: (409, "A/B test conflict"),
    personalization_errors.InvalidABTest: (422, "Invalid A/B test"),
    personalization_errors.SegmentNotFound: (404, "Segment not found"),
    personalization_errors.InvalidSegment: (422, "Invalid segment"),
    personalization_errors.UnknownSlot: (422, "Unknown slot"),
    personalization_errors.InvalidLinkRequest: (422, "Invalid link request"),
    personalization_errors.PersonalizationError: (400, "Personalization request failed"),
    # content_pool/
    content_errors.ContentNotFound: (404, "Content not found"),
    content_errors.VersionConflict: (409, "Content changed meanwhile"),
    content_errors.TemplateRejected: (422, "Template rejected"),
    content_errors.InvalidContent: (422, "Invalid content"),
    content_errors.ExpressionError: (422, "Invalid audience condition"),
    content_errors.ContentRenderError: (422, "Template failed to render"),
    content_errors.ContentStoreUnavailable: (503, "Content store unavailable"),
    content_errors.ContentError: (400, "Content request failed"),
})
"""HTTP status and title of each domain error; a subclass inherits its nearest mapped parent's,
so each package's root catches whatever the table does not name. Read-only: an app cannot
change what another app answers."""

ROOTS: tuple[type[Exception], ...] = (
    intent_errors.IntentError,
    personalization_errors.PersonalizationError,
    content_errors.ContentError,
)
"""The exception roots of the domain packages: the handler is installed for these."""


def lookup(exc: BaseException) -> tuple[int, str] | None:
    """The ``(status, title)`` of ``exc``: the first class of its MRO in :data:`PROBLEMS`."""
    for cls in type(exc).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return None


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    request: Request | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank", "title": title, "status": status, "detail": detail
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _detail_of(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _extra_of(exc: BaseException) -> dict[str, Any]:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list):
        return {"errors": errors}
    return {}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    mapped = lookup(exc)
    if mapped is None:
        return await _unexpected(request, exc)
    status, title = mapped
    headers = {"Retry-After": "5"} if status == 503 else None
    return problem(status, title, _detail_of(exc), request=request, headers=headers,
                   **_extra_of(exc))


def _invalid(request: Request, raw: Sequence[Any], *, skip_body: bool) -> JSONResponse:
    """A 422 naming every refused field; ``skip_body`` drops FastAPI's leading ``body`` part."""
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if not (skip_body and p == "body"))
         or "body", "message": e.get("msg", ""), "type": e.get("type")}
        for e in raw
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    detail = f"{first['field']}: {first['message']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return problem(422, "Invalid request", detail, request=request, errors=errors)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _invalid(request, exc.errors(), skip_body=True)


async def _model_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A domain model built from the caller's data refused it (e.g. a preview's language)."""
    assert isinstance(exc, PydanticValidationError)
    return _invalid(request, exc.errors(), skip_body=False)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    title = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
             413: "Request too large", 429: "Too many requests"}.get(exc.status_code, "Error")
    return problem(exc.status_code, title, detail, request=request, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    log.exception("unhandled error", extra={"request_id": request_id})
    return problem(500, "Internal error", "Something went wrong on our side; it has been logged.",
                   request=request)


def install(app: FastAPI) -> None:
    """Install the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(PydanticValidationError, _model_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for root in ROOTS:
        app.add_exception_handler(root, _domain_error)
    app.add_exception_handler(Exception, _unexpected)
