"""Segments for marketers (``/v1/segments``, admin key): define, list, delete, size.

``GET /v1/segments/{name}/size`` evaluates the condition on a uniform random sample of stored
profiles (``sample_size``, default ``KAIROS_SEGMENT_SAMPLE_SIZE``) and scales the share to the
number of profiles: an estimate with its 95 % interval, exact when the store is smaller than
the sample.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel

from personalization.experiments.segments import (
    NAME_PATTERN,
    Segment,
    SegmentFields,
)
from service.deps import ProfileSamplerDep, SegmentsDep, SettingsDep

Name = Annotated[str, Path(pattern=NAME_PATTERN)]

router = APIRouter(prefix="/v1/segments", tags=["segments"])


class SegmentSizePublic(BaseModel):
    name: str
    estimate: int
    low: int
    high: int
    exact: bool
    sampled: int
    matched: int
    profiles: int
    note: str


@router.get("")
async def list_segments(segments: SegmentsDep) -> list[Segment]:
    return await segments.all()


@router.get("/{name}")
async def get_segment(name: Name, segments: SegmentsDep) -> Segment:
    return await segments.get(name)


@router.put("/{name}")
async def put_segment(name: Name, fields: SegmentFields, segments: SegmentsDep) -> Segment:
    """Create or replace a segment; a condition that does not parse is a 422."""
    return await segments.put(name, fields)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_segment(name: Name, segments: SegmentsDep) -> Response:
    await segments.delete(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{name}/size")
async def segment_size(
    name: Name,
    segments: SegmentsDep,
    sampler: ProfileSamplerDep,
    settings: SettingsDep,
    sample_size: Annotated[int | None, Query(ge=10, le=100_000)] = None,
) -> SegmentSizePublic:
    """How many stored profiles are in the segment (an estimate for large stores)."""
    size = await segments.size(
        name, sampler, sample_size=sample_size or settings.segment_sample_size
    )
    note = (
        f"exact: all {size.profiles} profiles evaluated" if size.exact
        else f"estimate from a random sample of {size.sampled} of {size.profiles} profiles; "
             f"95% interval {size.low}-{size.high}"
    )  # fmt: skip
    return SegmentSizePublic(
        name=size.name, estimate=size.estimate, low=size.low, high=size.high, exact=size.exact,
        sampled=size.sampled, matched=size.matched, profiles=size.profiles, note=note,
    )  # fmt: skip
