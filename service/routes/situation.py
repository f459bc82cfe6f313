"""The situation as Kairos sees it (``POST /v1/situation``).

For integrators debugging their setup and for the console's "view as visitor": send the context
you would send with a decision or chat request and get back the device, source, language, local
time and the situation evidence that the intent fusion would receive. A malformed context field
(an unknown timezone, a country that is not two letters) is a 422.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from intent.situation import ContextInput, Situation
from intent.situation.context import from_headers
from service.deps import SituationReaderDep

router = APIRouter(prefix="/v1", tags=["situation"])


class SituationRequest(BaseModel):
    """The context of one visit, and optionally what the visitor wrote (for the language)."""

    model_config = ConfigDict(extra="forbid")

    context: ContextInput = Field(default_factory=ContextInput)
    text: str | None = Field(default=None, max_length=2000)  # as /v1/decide


@router.post("/situation", summary="Read the situation of a context")
def read_situation(
    request: Request, body: SituationRequest, reader: SituationReaderDep
) -> Situation:
    """Return the situation Kairos reads from ``body.context``, completed from the request's
    headers as ``/v1/decide`` completes it (the User-Agent and its client hints)."""
    return reader.read(from_headers(body.context, request.headers), text=body.text)
