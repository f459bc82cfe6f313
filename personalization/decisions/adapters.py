"""The decision's views of the profile service and the automation planner.

:class:`ConsentedProfiles` is the :class:`~personalization.decisions.parts.ProfileSource` and
:class:`PlannerAdvisor` the :class:`~personalization.decisions.parts.NextActionAdvisor`; both
see the stored profile only with personalisation consent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from personalization.automation.next_action import NextActionPlanner
from personalization.clock import Clock, system_clock
from personalization.decisions.models import DecisionProfile
from personalization.profiles import consent
from personalization.profiles.profile import Profile
from personalization.profiles.sensitivity import SensitivityPolicy, usable_profile_affinities


class ProfileFinder(Protocol):
    """``personalization.profiles.service.ProfileService``."""

    async def find(self, profile_id: str) -> Profile | None: ...


class PlannerAdvisor:
    """The next-action advisor over the automation planner and the profile service.

    The planner sees the stored profile only with personalisation consent; without it the
    action can come only from programmes that need nothing known about the person.
    """

    def __init__(self, planner: NextActionPlanner, profiles: ProfileFinder | None) -> None:
        self.planner = planner
        self.profiles = profiles

    async def advise(
        self, profile_id: str | None, situation: Any, prediction: Any, now: datetime
    ) -> dict[str, Any] | None:
        profile = None
        if profile_id is not None and self.profiles is not None:
            profile = consent.profile_for_decision(await self.profiles.find(profile_id))
        action = self.planner.immediate(profile, situation, prediction, now)
        return action.model_dump(mode="json") if action is not None else None


class ConsentedProfiles:
    """The profile source over the profile service, gated by personalisation consent.

    Affinities are decayed to the clock's now and scaled so the strongest interest is 1. With a
    ``sensitivity`` policy, interests in sensitive categories the person did not unlock are left
    out (they never reach targeting, ranking or rendering).
    """

    def __init__(
        self,
        profiles: ProfileFinder,
        *,
        clock: Clock = system_clock,
        sensitivity: SensitivityPolicy | None = None,
    ) -> None:
        self.profiles = profiles
        self.clock = clock
        self.sensitivity = sensitivity

    async def profile_for_decision(self, profile_id: str) -> DecisionProfile | None:
        profile = consent.profile_for_decision(await self.profiles.find(profile_id))
        if profile is None:
            return None
        scores = (
            usable_profile_affinities(profile, self.clock(), self.sensitivity)
            if self.sensitivity is not None
            else profile.affinities.current(self.clock())
        )
        strongest = max(scores.values(), default=0.0)
        affinities = (
            {topic: score / strongest for topic, score in scores.items() if score > 0}
            if strongest > 0
            else {}
        )
        return DecisionProfile(
            profile_id=profile.profile_id,
            lifecycle=str(profile.stage),
            affinities=affinities,
            first_name=profile.known.first_name,
        )
