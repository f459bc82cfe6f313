"""Sensitive categories and the creepiness line: pure filters for decisions, renders and actions.

Some interests say more about a person than they would want a shop to act on: health, pregnancy,
money troubles, religion... A category is *sensitive* when it is one of
:attr:`SensitivityPolicy.categories` or a sub-label of one (``health.diabetes``, ``health/sleep``,
``health:allergy``). The rules, each with the function that enforces it:

- **targeting, ranking, segments and next actions** use a sensitive affinity (or a sensitive
  purchase category) only when the person gave explicit consent for it:
  :meth:`SensitivityPolicy.usable_affinities`, :meth:`~SensitivityPolicy.usable_categories`;
- **text shown to the person** never contains a sensitive interest, consent or not, and never an
  inferred attribute (only what the person knowingly gave):
  :meth:`~SensitivityPolicy.visible_profile` builds what the renderer may see.

Explicit consent is a consent purpose, ``sensitive`` by default (all sensitive categories) or
``sensitive:<category>`` (one of them), read from a ``{purpose: granted}`` mapping
(:func:`consents_of` reads it off a profile). General personalisation consent is *not* enough.

>>> policy = SensitivityPolicy()
>>> policy.usable_affinities({"hiking": 0.9, "health.sleep": 0.7}, consents={})
{'hiking': 0.9}
>>> policy.usable_affinities({"health.sleep": 0.7}, consents={"sensitive:health": True})
{'health.sleep': 0.7}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from personalization.profiles.profile import Profile

DEFAULT_SENSITIVE_CATEGORIES: Final[frozenset[str]] = frozenset({
    "health", "medical", "medication", "pregnancy", "fertility", "baby_planning",
    "finance_troubles", "debt", "credit", "insolvency", "religion", "sexuality", "politics",
    "ethnicity", "mental_health", "addiction", "disability", "weight_loss",
})  # fmt: skip
"""Categories treated as sensitive unless the deployment configures its own list."""

_SEPARATORS: Final = (".", "/", ":", ">")


@dataclass(frozen=True, slots=True)
class SensitivityPolicy:
    """Which categories are sensitive and which consent purpose unlocks them.

    ``categories`` are compared lower-cased; ``consent_purpose`` grants all of them,
    ``f"{consent_purpose}:{category}"`` one.
    """

    categories: frozenset[str] = field(default=DEFAULT_SENSITIVE_CATEGORIES)
    consent_purpose: str = "sensitive"

    def __post_init__(self) -> None:
        assert self.consent_purpose, "a consent purpose is needed to unlock sensitive categories"
        object.__setattr__(
            self, "categories", frozenset(c.strip().lower() for c in self.categories if c.strip())
        )

    def root_of(self, label: str) -> str | None:
        """The sensitive category ``label`` falls under, or ``None`` when it is not sensitive."""
        lowered = label.strip().lower()
        if lowered in self.categories:
            return lowered
        for separator in _SEPARATORS:
            head = lowered.split(separator, 1)[0]
            if head != lowered and head in self.categories:
                return head
        return None

    def is_sensitive(self, label: str) -> bool:
        return self.root_of(label) is not None

    def unlocked(self, consents: Mapping[str, bool]) -> frozenset[str]:
        """The sensitive categories the person explicitly consented to."""
        if consents.get(self.consent_purpose) is True:
            return self.categories
        prefix = self.consent_purpose + ":"
        return frozenset(
            purpose[len(prefix):].lower()
            for purpose, granted in consents.items()
            if granted is True and purpose.startswith(prefix)
        )

    def usable(self, label: str, consents: Mapping[str, bool]) -> bool:
        """Whether ``label`` may drive targeting or actions for this person."""
        root = self.root_of(label)
        return root is None or root in self.unlocked(consents)

    def usable_affinities(
        self, affinities: Mapping[str, float], consents: Mapping[str, bool]
    ) -> dict[str, float]:
        """``affinities`` without the sensitive topics the person did not unlock (order kept).

        For ranking, audience conditions, segments and the decider's ``DecisionProfile``.
        """
        unlocked = self.unlocked(consents)
        return {
            topic: weight
            for topic, weight in affinities.items()
            if (root := self.root_of(topic)) is None or root in unlocked
        }

    def usable_categories(
        self, categories: Iterable[str], consents: Mapping[str, bool]
    ) -> list[str]:
        """Categories (e.g. of past purchases) that next actions may build on, order kept."""
        unlocked = self.unlocked(consents)
        return [c for c in categories if (root := self.root_of(c)) is None or root in unlocked]

    def shown_interests(self, affinities: Mapping[str, float], limit: int = 3) -> list[str]:
        """Interests that may appear in text shown to the person: never a sensitive one."""
        ranked = sorted(affinities, key=lambda topic: (-affinities[topic], topic))
        return [topic for topic in ranked if not self.is_sensitive(topic)][:limit]

    def visible_profile(
        self,
        *,
        lifecycle: str | None,
        affinities: Mapping[str, float],
        first_name: str | None = None,
        first_name_inferred: bool = False,
    ) -> dict[str, Any]:
        """What a template may print about the person (pass it to the renderer as ``profile``).

        ``{"lifecycle", "interests", "first_name"}``: interests without sensitive topics, the
        first name only when the person gave it (``first_name_inferred`` drops it). Consent to
        personalisation is still the caller's gate: without it, render nothing of the profile.
        """
        return {
            "lifecycle": lifecycle or "",
            "interests": self.shown_interests(affinities),
            "first_name": None if first_name_inferred else first_name,
        }


def consents_of(profile: Profile | None) -> dict[str, bool]:
    """The person's consent purposes as ``{purpose: granted}`` (empty without a profile)."""
    if profile is None:
        return {}
    return {str(purpose): entry.granted for purpose, entry in profile.consent.items()}


def usable_profile_affinities(
    profile: Profile, now: datetime, policy: SensitivityPolicy
) -> dict[str, float]:
    """The profile's affinities decayed to ``now``, minus sensitive ones not unlocked."""
    return policy.usable_affinities(profile.affinities.current(now), consents_of(profile))


def visible_profile_of(
    profile: Profile, now: datetime, policy: SensitivityPolicy
) -> dict[str, Any]:
    """:meth:`SensitivityPolicy.visible_profile` of a stored profile: known attributes only.

    Inferred attributes (language, country, timezone guessed from visits) are never included.
    """
    return policy.visible_profile(
        lifecycle=str(profile.stage),
        affinities=profile.affinities.current(now),
        first_name=profile.known.first_name,
    )
