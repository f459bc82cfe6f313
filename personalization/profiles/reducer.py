"""The pure reducer that updates a profile from events.

:func:`apply_events` is the reducer: ``(profile | None, events, now, policy) -> profile``, pure
and order-independent where it matters (affinities, consent, purchases), so replays and retries
give the same profile. Everything it keeps is bounded. :func:`reduce` also returns the lifecycle
transitions the events caused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from personalization.profiles import affinity
from personalization.profiles.events import (
    AccountCreated,
    AddToCart,
    AttributesUpdate,
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
from personalization.profiles.lifecycle import stage_for, stage_reached_at
from personalization.profiles.profile import (
    INFERRABLE,
    Cart,
    CartItem,
    Consent,
    InferredAttribute,
    IntentMark,
    LastSituation,
    Profile,
    ProfilePolicy,
    Transition,
)


@dataclass(frozen=True, slots=True)
class Reduction:
    """A new profile and the lifecycle transitions that producing it caused."""

    profile: Profile
    transitions: list[Transition]


def labels_of(event: Event) -> list[str]:
    """The categories and topics the caller named in ``event``, in order, without repeats."""
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
    contributions = _contributions(e, weight)
    if contributions:
        scores, ref = affinity.add(p.affinities.scores, p.affinities.at, contributions, at,
                                   policy.affinity)
        p.affinities.scores, p.affinities.at = scores, ref
    handler = _HANDLERS.get(e.type)
    if handler is not None:
        handler(p, e, at, policy)


def _contributions(e: Event, weight: float) -> dict[str, float]:
    """What ``e`` adds to each affinity: the named labels count fully; without any, the inferred
    topics count by their confidence (a weak reading adds less)."""
    if weight <= 0:
        return {}
    labels = labels_of(e)
    if labels:
        return dict.fromkeys(labels, weight)
    return {t.category: weight * t.confidence for t in e.inferred or () if t.confidence > 0}


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
        # Reached when it really happened: a lapse that an old order reveals is not news now.
        at = stage_reached_at(stage, last_order_at=p.rfm.last_order_at, now=now,
                              policy=policy.lifecycle)
        transition = Transition(from_stage=p.lifecycle.stage, to_stage=stage, at=at,
                                reason=reason)
        if stage != p.lifecycle.stage:
            transitions.append(transition)
            p.lifecycle.history = (p.lifecycle.history + [transition])[-policy.max_history:]
        p.lifecycle.stage, p.lifecycle.since = stage, at
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
