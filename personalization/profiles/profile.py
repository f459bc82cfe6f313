"""The customer profile, and the pure reducer that updates it from events.

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

:func:`apply_events` is the reducer: ``(profile | None, events, now, policy) -> profile``, pure
and order-independent where it matters (affinities, consent, purchases), so replays and retries
give the same profile. Everything it keeps is bounded.

Stored form: :func:`to_document` writes a compact JSON document (short keys, epoch seconds,
rounded floats, defaults left out, the small records of bounded lists as arrays) and
:func:`from_document` reads it back; the long names are what the API and the code see. The
target is at most 2 KB per profile in Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from personalization.profiles import affinity
from personalization.profiles.affinity import AffinityPolicy
from personalization.profiles.events import (
    AccountCreated,
    AddToCart,
    AttributesUpdate,
    Channel,
    CheckoutStarted,
    ConsentUpdate,
    Event,
    Login,
    NewsletterSignup,
    ProfileUpdate,
    Purchase,
    Purpose,
    RemoveFromCart,
)
from personalization.profiles.lifecycle import (
    LifecyclePolicy,
    RfmScores,
    Stage,
    rfm_scores,
    stage_for,
)
from personalization.store.protocols import Document

INFERRABLE = ("language", "country", "timezone")
"""Known attributes that may be inferred from the situation when the person has not given them."""


class _Doc(BaseModel):
    # Fields accept their long name and their short stored key (``validation_alias``).
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, extra="ignore")


class _Row(_Doc):
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


class InferredAttribute(_Row):
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


class Transition(_Row):
    """A change of lifecycle stage."""

    from_stage: Stage = Field(validation_alias="f")
    to_stage: Stage = Field(validation_alias="t")
    at: datetime = Field(validation_alias="at")
    reason: str = Field("", validation_alias="r")


class Lifecycle(_Doc):
    stage: Stage = Field(Stage.anonymous, validation_alias="st")
    since: datetime | None = Field(None, validation_alias="si")
    history: list[Transition] = Field(default_factory=list, validation_alias="h")


class CartItem(_Row):
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


class Consent(_Row):
    granted: bool = Field(validation_alias="g")
    at: datetime = Field(validation_alias="at")
    source: str = Field(validation_alias="s")


class LastSituation(_Doc):
    at: datetime = Field(validation_alias="at")
    attributes: dict[str, str | int | float | bool] = Field(
        default_factory=dict, validation_alias="a"
    )


class IntentMark(_Row):
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


# -- stored form ----------------------------------------------------------------------------------
_MISSING = object()
_FIELDS: dict[type[BaseModel], list[tuple[str, str, Any]]] = {}


def _fields(cls: type[BaseModel]) -> list[tuple[str, str, Any]]:
    """``(name, stored key, packed default)`` of each field of ``cls``, computed once per class.

    Defaults are compared in their packed (JSON) form, which is cheaper than comparing models.
    """
    found = _FIELDS.get(cls)
    if found is None:
        found = []
        for name, info in cls.model_fields.items():
            key = info.validation_alias if isinstance(info.validation_alias, str) else name
            default = _MISSING if info.is_required() else _pack(info.get_default(
                call_default_factory=True))
            found.append((name, key, default))
        _FIELDS[cls] = found
    return found


def _pack(value: Any) -> Any:
    if isinstance(value, BaseModel):
        fields = _fields(type(value))
        if isinstance(value, _Row):
            row = [_pack(getattr(value, name)) for name, _, _ in fields]
            while row and row[-1] == fields[len(row) - 1][2]:
                row.pop()  # trailing defaults
            return row
        out: dict[str, Any] = {}
        for name, key, default in fields:
            packed = _pack(getattr(value, name))
            if packed != default:
                out[key] = packed
        return out
    if isinstance(value, str):
        return str(value)  # plain str for enums
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _pack(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_pack(v) for v in value]
    return value


def to_document(profile: Profile) -> Document:
    """The compact stored form (short keys, epoch seconds, rounded floats, no defaults)."""
    document: Document = _pack(profile)
    return document


def from_document(document: Document) -> Profile:
    """Read a stored document (or the long-named JSON of the API) back into a profile."""
    return Profile.model_validate(document)


# -- the reducer ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reduction:
    """A new profile and the lifecycle transitions that producing it caused."""

    profile: Profile
    transitions: list[Transition]


def _labels(event: Event) -> list[str]:
    props = event.properties
    labels: list[str] = []
    category = getattr(props, "category", None)
    if category:
        labels.append(category)
    labels.extend(getattr(props, "topics", ()))
    if isinstance(event, Purchase):
        labels.extend(item.category for item in event.properties.items)
    return list(dict.fromkeys(labels))


def _set_attributes(profile: Profile, update: AttributesUpdate) -> None:
    for name in update.model_fields_set:
        value = getattr(update, name)
        if name == "postcode":
            name, value = "region", (value.strip()[:2].upper() if value else None)
        setattr(profile.known, name, value)
        if value is not None:
            profile.inferred.pop(name, None)


def _grant(profile: Profile, purpose: Purpose, granted: bool, at: datetime, source: str) -> None:
    entry = profile.consent.get(purpose)
    if entry is None or at >= entry.at:
        profile.consent[purpose] = Consent(granted=granted, at=at, source=source)


def _add_to_cart(p: Profile, e: AddToCart, at: datetime, policy: ProfilePolicy) -> None:
    if p.rfm.last_order_at is not None and at < p.rfm.last_order_at:
        return  # bought since: a replayed, older cart change must not refill the cart
    props = e.properties
    item = next((i for i in p.cart.items if i.product_id == props.product_id), None)
    if item is None:
        if len(p.cart.items) >= policy.max_cart_items:
            return
        item = CartItem(product_id=props.product_id, quantity=0)
        p.cart.items.append(item)
    item.quantity += props.quantity
    item.price = props.price or item.price
    item.category = props.category or item.category
    p.cart.currency = props.currency or p.cart.currency
    p.cart.updated_at = max(at, p.cart.updated_at or at)


def _remove_from_cart(p: Profile, e: RemoveFromCart, at: datetime, policy: ProfilePolicy) -> None:
    props = e.properties
    for item in list(p.cart.items):
        if item.product_id == props.product_id:
            item.quantity -= props.quantity or item.quantity
            if item.quantity <= 0:
                p.cart.items.remove(item)
    p.cart.updated_at = max(at, p.cart.updated_at or at)


def _checkout(p: Profile, e: CheckoutStarted, at: datetime, policy: ProfilePolicy) -> None:
    p.cart.checkout_started_at = max(at, p.cart.checkout_started_at or at)


def _purchase(p: Profile, e: Purchase, at: datetime, policy: ProfilePolicy) -> None:
    props, rfm = e.properties, p.rfm
    rfm.orders += 1
    rfm.revenue += props.value
    rfm.currency = rfm.currency or props.currency
    rfm.first_order_at = min(at, rfm.first_order_at or at)
    if rfm.last_order_at is None or at >= rfm.last_order_at:
        rfm.last_order_at = at
        rfm.last_order_id = props.order_id
        rfm.last_order_value = props.value
        rfm.last_order_categories = list(dict.fromkeys(i.category for i in props.items))[:5]
    if p.cart.updated_at is None or at >= p.cart.updated_at:
        p.cart = Cart()
    else:  # the cart changed after this order: only what was bought leaves it
        bought = {item.product_id for item in props.items}
        p.cart.items = [item for item in p.cart.items if item.product_id not in bought]


def _consent(p: Profile, e: ConsentUpdate, at: datetime, policy: ProfilePolicy) -> None:
    for purpose, granted in e.properties.consents.items():
        _grant(p, purpose, granted, at, e.properties.source)


def _newsletter(p: Profile, e: NewsletterSignup, at: datetime, policy: ProfilePolicy) -> None:
    _grant(p, Purpose.email, True, at, "newsletter_signup")


def _account(p: Profile, e: AccountCreated | Login, at: datetime, policy: ProfilePolicy) -> None:
    if e.properties.attributes is not None:
        _set_attributes(p, e.properties.attributes)


def _profile_update(p: Profile, e: ProfileUpdate, at: datetime, policy: ProfilePolicy) -> None:
    _set_attributes(p, e.properties)


_HANDLERS: dict[str, Callable[[Profile, Any, datetime, ProfilePolicy], None]] = {
    "add_to_cart": _add_to_cart,
    "remove_from_cart": _remove_from_cart,
    "checkout_started": _checkout,
    "purchase": _purchase,
    "consent_update": _consent,
    "newsletter_signup": _newsletter,
    "account_created": _account,
    "login": _account,
    "profile_update": _profile_update,
}


def _observe_situation(p: Profile, e: Event, at: datetime, policy: ProfilePolicy) -> None:
    assert e.situation is not None
    if p.last_situation is None or at >= p.last_situation.at:
        kept = list(e.situation.items())[: policy.max_situation_keys]
        p.last_situation = LastSituation(
            at=at, attributes={k: v[:48] if isinstance(v, str) else v for k, v in kept}
        )
    for name in INFERRABLE:
        value = e.situation.get(name)
        if not isinstance(value, str) or not value or getattr(p.known, name) is not None:
            continue
        current = p.inferred.get(name)
        if current is None or at >= current.at:
            p.inferred[name] = InferredAttribute(value=value[:48], source="situation", at=at)


def _apply_one(p: Profile, e: Event, now: datetime, policy: ProfilePolicy) -> None:
    at = e.at(now)
    p.event_count += 1
    p.last_seen_at = max(at, p.last_seen_at or at)
    if e.profile_id == p.profile_id:
        p.anonymous = False
    merged = e.merges
    if merged is not None and merged[0] != p.profile_id and merged[0] not in p.merged_from:
        p.merged_from = (p.merged_from + [merged[0]])[-policy.max_merged_from:]
    if e.situation:
        _observe_situation(p, e, at, policy)
    if e.intent is not None:
        mark = IntentMark(intent=e.intent.intent, phase=e.intent.phase, moment=e.intent.moment,
                          confidence=e.intent.confidence, at=at)
        marks = sorted([*p.last_intents, mark], key=lambda m: m.at)
        p.last_intents = marks[-policy.max_intents:]
    weight = policy.affinity.weight(e.type)
    labels = _labels(e)
    if weight > 0 and labels:
        scores, ref = affinity.add(p.affinities.scores, p.affinities.at,
                                   dict.fromkeys(labels, weight), at, policy.affinity)
        p.affinities.scores, p.affinities.at = scores, ref
    handler = _HANDLERS.get(e.type)
    if handler is not None:
        handler(p, e, at, policy)


def _new_profile(profile_id: str, anonymous: bool, now: datetime, policy: ProfilePolicy) -> Profile:
    profile = Profile(profile_id=profile_id, anonymous=anonymous, created_at=now, updated_at=now)
    profile.affinities.half_life_days = policy.affinity.half_life / timedelta(days=1)
    for purpose in sorted(policy.consent_defaults):
        profile.consent[purpose] = Consent(granted=True, at=now, source="default")
    return profile


def reduce(
    profile: Profile | None,
    events: Sequence[Event],
    *,
    profile_id: str,
    now: datetime,
    policy: ProfilePolicy,
    copy: bool = True,
) -> Reduction:
    """Apply ``events`` to ``profile`` (a new one named ``profile_id`` when ``None``).

    Events are applied in time order; the lifecycle stage is then evaluated at ``now`` and a change
    is recorded as a :class:`Transition`. With no events this only re-evaluates the stage (time
    alone moves people to ``at_risk`` and ``lapsed``). ``profile`` itself is not modified, unless
    ``copy=False`` (for a caller that owns a throw-away instance).
    """
    if profile is None:
        anonymous = not any(e.profile_id == profile_id for e in events)
        p = _new_profile(profile_id, anonymous, now, policy)
    elif copy:  # a deep copy (pydantic's own deepcopy is several times slower)
        p = Profile.model_validate(profile.model_dump())
    else:
        p = profile
    for event in sorted(events, key=lambda e: e.at(now)):
        _apply_one(p, event, now, policy)
    p.affinities.scores = affinity.prune(p.affinities.scores, policy.affinity)
    stage, reason = stage_for(anonymous=p.anonymous, orders=p.rfm.orders,
                              first_order_at=p.rfm.first_order_at,
                              last_order_at=p.rfm.last_order_at, now=now,
                              policy=policy.lifecycle)
    transitions: list[Transition] = []
    if stage != p.lifecycle.stage or p.lifecycle.since is None:
        transition = Transition(from_stage=p.lifecycle.stage, to_stage=stage, at=now,
                                reason=reason)
        if stage != p.lifecycle.stage:
            transitions.append(transition)
            p.lifecycle.history = (p.lifecycle.history + [transition])[-policy.max_history:]
        p.lifecycle.stage, p.lifecycle.since = stage, now
    if events or transitions:
        p.updated_at = now
    return Reduction(p, transitions)


def apply_events(
    profile: Profile | None, events: Sequence[Event], *, now: datetime, policy: ProfilePolicy
) -> Profile:
    """The reducer: ``profile`` (or a new one) after ``events``, as of ``now``.

    A new profile is named by the first event with a ``profile_id``, else the first anonymous id.
    """
    if profile is not None:
        profile_id = profile.profile_id
    else:
        assert events, "a new profile needs at least one event"
        profile_id = next((e.profile_id for e in events if e.profile_id), events[0].subject)
    return reduce(profile, events, profile_id=profile_id, now=now, policy=policy).profile
