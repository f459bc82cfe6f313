"""Profiles for admins: read, correct, export and erase what Kairos knows about a person."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from personalization.profiles.events import AttributesUpdate, Purpose
from personalization.profiles.ids import ProfileId
from personalization.profiles.profile import Profile
from service.deps import ProfileServiceDep

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

ProfileIdPath = Annotated[ProfileId, Path(description="1–128 of A-Z a-z 0-9 . _ : @ -")]


class ProfilePatch(BaseModel):
    """A correction: known attributes (``null`` clears one) and/or consents per purpose."""

    model_config = ConfigDict(extra="forbid")

    attributes: AttributesUpdate | None = None
    consents: dict[Purpose, bool] | None = None
    source: str = Field(default="admin", min_length=1, max_length=32,
                        description="Recorded with each consent change.")

    @model_validator(mode="after")
    def _changes_something(self) -> ProfilePatch:
        if not (self.attributes and self.attributes.model_fields_set) and not self.consents:
            raise ValueError("send attributes or consents to change")
        return self


@router.get("/{profile_id}", summary="A profile")
async def get_profile(profile_id: ProfileIdPath, profiles: ProfileServiceDep) -> Profile:
    return await profiles.get(profile_id)


@router.patch("/{profile_id}", summary="Correct known attributes and consents")
async def patch_profile(
    profile_id: ProfileIdPath, patch: ProfilePatch, profiles: ProfileServiceDep
) -> Profile:
    return await profiles.patch(profile_id, attributes=patch.attributes, consents=patch.consents,
                                source=patch.source)


@router.delete("/{profile_id}", status_code=204, summary="Erase everything about the person",
               response_class=Response)
async def erase_profile(profile_id: ProfileIdPath, profiles: ProfileServiceDep) -> Response:
    """Deletes the profile, its events, decision records and personal records. Idempotent."""
    await profiles.erase(profile_id)
    return Response(status_code=204)


@router.get("/{profile_id}/export", summary="Everything stored about the person")
async def export_profile(profile_id: ProfileIdPath, profiles: ProfileServiceDep) -> dict[str, Any]:
    return await profiles.export(profile_id)
