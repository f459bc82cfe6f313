"""An A/B test as a marketer defines it, and the sticky assignment of people to its variants.

The first variant is the control; see :mod:`personalization.experiments.abtests` for running one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from personalization.experiments.abstats import required_sample_size

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"

StopRule = Literal["fixed_horizon", "sequential"]
Status = Literal["draft", "running", "stopped"]



def assign(test_id: str, person_id: str, shares: Sequence[float]) -> int:
    """The index of the variant ``person_id`` gets in ``test_id``: a stable hash into ``shares``."""
    digest = hashlib.sha256(f"abtest|{test_id}|{person_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(shares)
    cumulative = 0.0
    for index, share in enumerate(shares):
        cumulative += share
        if point < cumulative:
            return index
    return len(shares) - 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Variant(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,29}$")
    item_id: str = Field(min_length=1, max_length=100)
    share: float = Field(gt=0, le=1)


class ABTestFields(_Model):
    """What a marketer defines (``PUT /v1/abtests/{id}`` body). The first variant is the control."""

    slot: str = Field(min_length=1, max_length=40)
    description: str = Field(default="", max_length=500)
    variants: list[Variant] = Field(min_length=2, max_length=8)
    goal: str = Field(
        default="click", pattern=r"^[a-z_]{1,40}$",
        description="click, conversion, or an event type (e.g. purchase) that counts as success.",
    )  # fmt: skip
    stop_rule: StopRule = "sequential"
    alpha: float = Field(default=0.05, gt=0, le=0.2)
    power: float = Field(default=0.8, ge=0.5, lt=1, description="fixed_horizon only.")
    baseline_rate: float = Field(default=0.05, gt=0, lt=1, description="The control's rate.")
    minimum_effect: float = Field(
        default=0.2, gt=0, le=10, description="Smallest relative lift worth detecting."
    )
    tau: float | None = Field(
        default=None, gt=0, lt=1,
        description="sequential: mixing sd of the difference (default baseline x effect).",
    )  # fmt: skip
    max_participants: int | None = Field(
        default=None, ge=10, description="sequential: per variant, then the test ends."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [v.name for v in self.variants]
        items = [v.item_id for v in self.variants]
        if len(set(names)) != len(names) or len(set(items)) != len(items):
            raise ValueError("variant names and item ids must be distinct")
        if abs(sum(v.share for v in self.variants) - 1.0) > 1e-6:
            raise ValueError("variant shares must add up to 1")
        return self

    @property
    def comparisons(self) -> int:
        return len(self.variants) - 1

    @property
    def mixing_sd(self) -> float:
        return self.tau if self.tau is not None else self.baseline_rate * self.minimum_effect

    def horizon(self) -> int | None:
        """Participants per variant of a fixed-horizon test (``None`` for sequential)."""
        if self.stop_rule != "fixed_horizon":
            return None
        return required_sample_size(
            self.baseline_rate, self.minimum_effect, alpha=self.alpha, power=self.power,
            comparisons=self.comparisons,
        )  # fmt: skip


class ABTest(ABTestFields):
    """A stored test."""

    id: str = Field(pattern=ID_PATTERN)
    status: Status = "draft"
    created_at: AwareDatetime
    started_at: AwareDatetime | None = None
    stopped_at: AwareDatetime | None = None
    stop_reason: str | None = None
    required_per_variant: int | None = None

    @property
    def shares(self) -> list[float]:
        return [v.share for v in self.variants]
