"""The customer profile: what Kairos knows about one person.

A :class:`Profile` is what Kairos knows about one person (names after Apache Unomi):

- ``known``: attributes the person gave (language, country, region, timezone, birthday, first
  name, channel preferences); ``inferred``: attributes guessed from behaviour, each with its
  ``source`` and time, never overriding a known one (``profile.attribute("language")`` reads both);
- ``affinities``: interest per category/topic, fading with a half-life
  (``profile.affinities.current(now)``, ``top(now, n)``);
- ``rfm`` and ``lifecycle``: orders, revenue, last order; the stage with ``since`` and the recent
  ``history`` of transitions (time and reason);
- ``cart``: items, value, last change, checkout start (for abandonment);
- ``consent`` per purpose (granted, time, source): read it through
:mod:`personalization.profiles.consent`;
- ``last_situation``, ``last_intents`` (bounded), ``merged_from`` (anonymous ids merged in),
  ``event_count``, ``created_at``, ``updated_at``, ``last_seen_at``.

Events update it through the reducer (:mod:`personalization.profiles.reducer`, configured by
:class:`ProfilePolicy`); it is stored in the compact form of
:mod:`personalization.profiles.document`. Each field's ``validation_alias`` is its short stored key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from personalization.profiles import affinity
from personalization.profiles.affinity import AffinityPolicy
from personalization.profiles.events import Channel, Purpose
from personalization.profiles.lifecycle import (
    LifecyclePolicy,
    RfmScores,
    Stage,
    rfm_scores,
)

INFERRABLE = ("language", "country", "timezone")
"""Known attributes that may be inferred from the situation when the person has not given them."""


class _Doc(BaseModel):
    # Fields accept their long name and their short stored key (``validation_alias``).
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, extra="ignore")


class StoredRow(_Doc):
    """A small record of a bounded list, stored as a JSON array of its values in field order.

    New fields go at the end, with a default, so that older stored rows still read.
    """

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, data: Any) -> Any:
        if isinstance(data, list):
            return dict(zip(cls.model_fields, data, strict=False))
        return data


class KnownAttributes(_Doc):
    first_name: str | None = Field(None, validation_alias="fn")
    language: str | None = Field(None, validation_alias="la")
    country: str | None = Field(None, validation_alias="co")
    region: str | None = Field(None, validation_alias="rg", description="Postcode region.")
    timezone: str | None = Field(None, validation_alias="tz")
    birthday: date | None = Field(None, validation_alias="bd")
    channel_preferences: list[Channel] = Field(default_factory=list, validation_alias="ch")


class InferredAttribute(StoredRow):
    """A value guessed from behaviour, not given by the person."""

    value: str = Field(validation_alias="v")
    source: str = Field(validation_alias="s")
    at: datetime = Field(validation_alias="at")


class Affinities(_Doc):
    """Scores per category/topic as of ``at``; read them through :meth:`current`."""

    scores: dict[str, float] = Field(default_factory=dict, validation_alias="s")
    at: datetime | None = Field(None, validation_alias="at")
    half_life_days: float = Field(30.0, validation_alias="h")

    def current(self, now: datetime) -> dict[str, float]:
        """Levels in [0, 1] as of ``now``, highest first (:func:`affinity.levels`)."""
        policy = AffinityPolicy(half_life=timedelta(days=self.half_life_days))
        return affinity.levels(self.scores, self.at, now, policy)

    def top(self, now: datetime, n: int = 5) -> list[tuple[str, float]]:
        return list(self.current(now).items())[:n]


class Rfm(_Doc):
    """Purchase figures: recency through ``last_order_at``, frequency, monetary value."""

    orders: int = Field(0, validation_alias="o")
    revenue: float = Field(0.0, validation_alias="m")
    currency: str | None = Field(None, validation_alias="cu")
    first_order_at: datetime | None = Field(None, validation_alias="fo")
    last_order_at: datetime | None = Field(None, validation_alias="lo")
    last_order_id: str | None = Field(None, validation_alias="li")
    last_order_value: float | None = Field(None, validation_alias="lv")
    last_order_categories: list[str] = Field(default_factory=list, validation_alias="lc")

    def recency_days(self, now: datetime) -> float | None:
        if self.last_order_at is None:
            return None
        return max(0.0, (now - self.last_order_at) / timedelta(days=1))


class Transition(StoredRow):
    """A change of lifecycle stage."""

    from_stage: Stage = Field(validation_alias="f")
    to_stage: Stage = Field(validation_alias="t")
    at: datetime = Field(validation_alias="at")
    reason: str = Field("", validation_alias="r")


class Lifecycle(_Doc):
    stage: Stage = Field(Stage.anonymous, validation_alias="st")
    since: datetime | None = Field(None, validation_alias="si")
    history: list[Transition] = Field(default_factory=list, validation_alias="h")


class CartItem(StoredRow):
    product_id: str = Field(validation_alias="p")
    quantity: int = Field(1, validation_alias="q")
    price: float = Field(0.0, validation_alias="pr")
    category: str | None = Field(None, validation_alias="c")


class Cart(_Doc):
    items: list[CartItem] = Field(default_factory=list, validation_alias="it")
    currency: str | None = Field(None, validation_alias="cu")
    updated_at: datetime | None = Field(None, validation_alias="ua")
    checkout_started_at: datetime | None = Field(None, validation_alias="ck")

    @property
    def value(self) -> float:
        return round(sum(item.price * item.quantity for item in self.items), 2)

    @property
    def is_empty(self) -> bool:
        return not self.items

    def abandoned(self, now: datetime, after: timedelta) -> bool:
        """Items in the cart and no change for ``after``."""
        return bool(self.items) and self.updated_at is not None and now - self.updated_at >= after


class Consent(StoredRow):
    granted: bool = Field(validation_alias="g")
    at: datetime = Field(validation_alias="at")
    source: str = Field(validation_alias="s")


class LastSituation(_Doc):
    at: datetime = Field(validation_alias="at")
    attributes: dict[str, str | int | float | bool] = Field(
        default_factory=dict, validation_alias="a"
    )


class IntentMark(StoredRow):
    intent: str = Field(validation_alias="i")
    phase: str = Field("unknown", validation_alias="p")
    moment: str = Field("unknown", validation_alias="m")
    confidence: float = Field(1.0, validation_alias="c")
    at: datetime = Field(validation_alias="at")


class Profile(_Doc):
    """What Kairos knows about one person; see the module docstring."""

    profile_id: str = Field(validation_alias="id")
    anonymous: bool = Field(False, validation_alias="an")
    known: KnownAttributes = Field(default_factory=KnownAttributes, validation_alias="k")
    inferred: dict[str, InferredAttribute] = Field(default_factory=dict, validation_alias="i")
    affinities: Affinities = Field(default_factory=Affinities, validation_alias="af")
    rfm: Rfm = Field(default_factory=Rfm, validation_alias="r")
    lifecycle: Lifecycle = Field(default_factory=Lifecycle, validation_alias="l")
    cart: Cart = Field(default_factory=Cart, validation_alias="c")
    consent: dict[Purpose, Consent] = Field(default_factory=dict, validation_alias="cs")
    last_situation: LastSituation | None = Field(None, validation_alias="s")
    last_intents: list[IntentMark] = Field(default_factory=list, validation_alias="in")
    merged_from: list[str] = Field(default_factory=list, validation_alias="mf")
    event_count: int = Field(0, validation_alias="n")
    created_at: datetime = Field(validation_alias="ca")
    updated_at: datetime = Field(validation_alias="ua")
    last_seen_at: datetime | None = Field(None, validation_alias="ls")

    # -- typed reading for decisions and automation ---------------------------------------------
    @property
    def stage(self) -> Stage:
        return self.lifecycle.stage

    @property
    def timezone(self) -> str | None:
        return self.attribute("timezone")

    @property
    def language(self) -> str | None:
        return self.attribute("language")

    @property
    def birthday(self) -> date | None:
        return self.known.birthday

    @property
    def channel_preferences(self) -> list[Channel]:
        return list(self.known.channel_preferences)

    @property
    def last_purchase_at(self) -> datetime | None:
        return self.rfm.last_order_at

    @property
    def last_intent(self) -> IntentMark | None:
        return self.last_intents[-1] if self.last_intents else None

    def attribute(self, name: str) -> str | None:
        """A known attribute, else the inferred one of that name, else ``None``."""
        known = getattr(self.known, name, None)
        if known is not None:
            return str(known)
        inferred = self.inferred.get(name)
        return inferred.value if inferred is not None else None

    def rfm_scores(self, now: datetime, policy: LifecyclePolicy) -> RfmScores | None:
        return rfm_scores(orders=self.rfm.orders, revenue=self.rfm.revenue,
                          last_order_at=self.rfm.last_order_at, now=now, policy=policy)


@dataclass(frozen=True, slots=True)
class ProfilePolicy:
    """Everything the reducer is configured with, validated by its parts."""

    affinity: AffinityPolicy = field(default_factory=AffinityPolicy)
    lifecycle: LifecyclePolicy = field(default_factory=LifecyclePolicy)
    consent_defaults: frozenset[Purpose] = frozenset()
    """Purposes granted to a new profile until the person says otherwise (source "default")."""
    max_intents: int = 4
    max_history: int = 5
    max_cart_items: int = 8
    max_merged_from: int = 10
    max_situation_keys: int = 8
