"""Deciding "as this visitor" without side effects, for the console's preview.

:func:`preview_decider` copies the live :class:`~personalization.decisions.decider.Decider` with a
:class:`DryRunStore`: it reads the real bandit statistics, frequency caps and profiles (so the
answer is the one a real visitor would get), but writes nothing — no decision log, no showing
counted, no cap used up — and it never puts the marketer into the control group. A profile can
be replaced by a stated lifecycle stage and interests (:class:`StatedProfile`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from personalization.decisions.decider import Decider, ProfileSource
from personalization.decisions.holdout import Holdout
from personalization.decisions.models import DecisionProfile
from personalization.decisions.policies import BanditState
from personalization.store.protocols import Document

PREVIEW_PROFILE_ID = "console-preview"


class DryRunStore:
    """Reads from ``store``; every write is kept in this object only and then forgotten."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._decisions: dict[str, Document] = {}

    async def put_decision(
        self, decision_id: str, record: Document, *, profile_id: str | None, ttl: timedelta
    ) -> None:
        self._decisions[decision_id] = record

    async def get_decision(self, decision_id: str) -> Document | None:
        return self._decisions.get(decision_id)

    async def decisions_of(self, profile_id: str) -> list[Document]:
        return [r for r in self._decisions.values() if r.get("profile_id") == profile_id]

    async def recent_decisions(self, *, limit: int = 1000) -> list[Document]:
        return list(self._decisions.values())[-limit:]

    async def incr(self, key: str, amounts: Mapping[str, float]) -> None:
        return None

    async def incr_many(self, updates: Sequence[tuple[str, Mapping[str, float]]]) -> None:
        return None

    async def get_many(self, keys: Sequence[str]) -> list[dict[str, float]]:
        rows: list[dict[str, float]] = await self._store.get_many(keys)
        return rows

    async def scan_counters(self, pattern: str) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = await self._store.scan_counters(pattern)
        return found

    async def incr_personal(
        self, profile_id: str, part: str, amounts: Mapping[str, float], *, ttl: timedelta
    ) -> dict[str, float]:
        return dict(amounts)

    async def put_record(
        self, profile_id: str, part: str, name: str, value: Document, *, ttl: timedelta
    ) -> None:
        return None

    async def get_records(self, profile_id: str, part: str) -> dict[str, Document]:
        if profile_id == PREVIEW_PROFILE_ID:
            return {}
        records: dict[str, Document] = await self._store.get_records(profile_id, part)
        return records

    async def count_records(self, profile_id: str, part: str) -> int:
        return len(await self.get_records(profile_id, part))

    async def delete_record(self, profile_id: str, part: str, name: str) -> None:
        return None

    async def get_personal_counters(self, profile_id: str, part: str) -> dict[str, float]:
        if profile_id == PREVIEW_PROFILE_ID:
            return {}
        counters: dict[str, float] = await self._store.get_personal_counters(profile_id, part)
        return counters


class StatedProfile:
    """A profile source that answers with a stated profile for :data:`PREVIEW_PROFILE_ID`."""

    def __init__(self, profile: DecisionProfile, fallback: ProfileSource | None) -> None:
        self.profile = profile
        self.fallback = fallback

    async def profile_for_decision(self, profile_id: str) -> DecisionProfile | None:
        if profile_id == self.profile.profile_id:
            return self.profile
        if self.fallback is None:
            return None
        return await self.fallback.profile_for_decision(profile_id)


def stated_profile(lifecycle: str, interests: Sequence[str]) -> DecisionProfile:
    """A consented preview profile: the lifecycle stage and equally strong interests."""
    return DecisionProfile(
        profile_id=PREVIEW_PROFILE_ID,
        lifecycle=lifecycle or "anonymous",
        affinities={topic: 0.8 for topic in interests},
    )


def preview_decider(decider: Decider, profile: DecisionProfile | None = None) -> Decider:
    """A copy of ``decider`` that reads like the original and writes nothing."""
    preview = copy.copy(decider)
    store = DryRunStore(decider.store)
    profiles = decider.parts.profiles
    if profile is not None:
        profiles = StatedProfile(profile, profiles)
    preview.parts = replace(decider.parts, store=store, holdout=Holdout(0.0), profiles=profiles)
    preview.bandit = BanditState(store, namespace=decider.bandit.namespace)
    return preview
