"""Profiles for admins: read, correct, export and erase what Kairos knows about a person."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from personalization.clock import system_clock
from personalization.profiles.affinity import AffinityPolicy
from personalization.profiles.events import PROFILE_ID_PATTERN, AttributesUpdate, Purpose
from personalization.profiles.lifecycle import LifecyclePolicy
from personalization.profiles.profile import Profile, ProfilePolicy
from personalization.profiles.reactions import build_change_feed
from personalization.profiles.service import ProfileService, Store
from service.settings import Settings

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

ProfileIdPath = Annotated[
    str, Path(pattern=PROFILE_ID_PATTERN, description="1–128 of A-Z a-z 0-9 . _ : @ -")
]


def build_profile_service(settings: Settings, store: Store) -> ProfileService:
    """The profile service configured from ``settings`` (built in the lifespan)."""
    policy = ProfilePolicy(
        affinity=AffinityPolicy(half_life=timedelta(days=settings.affinity_half_life_days),
                                max_labels=settings.max_affinities),
        lifecycle=LifecyclePolicy(
            new_customer_days=settings.lifecycle_new_customer_days,
            active_min_orders=settings.lifecycle_active_min_orders,
            loyal_min_orders=settings.lifecycle_loyal_min_orders,
            at_risk_days=settings.lifecycle_at_risk_days,
            lapsed_days=settings.lifecycle_lapsed_days,
        ),
        consent_defaults=frozenset(Purpose(p) for p in settings.consent_defaults),
    )
    changes = (build_change_feed(store, lease=timedelta(seconds=settings.action_lease_seconds))
               if settings.reactions_in_worker else None)
    return ProfileService(store, clock=system_clock, policy=policy,
                          max_carried_events=settings.max_events_per_profile, changes=changes)


async def get_profile_service(request: Request) -> ProfileService:
    # async: a plain ``def`` dependency would cost a threadpool round trip per request
    service: ProfileService = request.state.profiles
    return service


ProfileServiceDep = Annotated[ProfileService, Depends(get_profile_service)]


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
