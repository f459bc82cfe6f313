"""A person as automation sees them, and whether they meet a programme's conditions.

:func:`person_of` reads a :class:`Person` from a stored profile; :func:`check_conditions` tells
whether the person qualifies for a programme or step, with the reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from personalization.automation.programmes import Conditions
from personalization.profiles.profile import Profile
from personalization.profiles.sensitivity import SensitivityPolicy

DEFAULT_SENSITIVITY = SensitivityPolicy()


@dataclass(frozen=True, slots=True)
class Person:
    """The facts about a person that automation uses (see :mod:`personalization.automation.engine`).

    Built from a profile by :func:`person_of`; tests build it
    directly.
    """

    profile_id: str | None
    stage: str = "anonymous"
    known: bool = False
    language: str | None = None
    timezone: str | None = None
    consents: Mapping[str, bool] = field(default_factory=dict)
    channel_preferences: Sequence[str] = ()
    birthday: date | None = None
    first_order_at: datetime | None = None
    orders: int = 0
    monetary: float = 0.0
    bought_categories: Sequence[str] = ()
    cart_items: int = 0
    profile_complete: bool = False
    problem_moments: int = 0
    """Earlier interactions in the moment ``problem`` (recent ones)."""


def person_of(
    profile: Profile,
    *,
    complete_when: Sequence[str] = ("first_name", "birthday"),
    sensitivity: SensitivityPolicy = DEFAULT_SENSITIVITY,
) -> Person:
    """The automation view of a stored profile.

    The profile counts as complete when every known attribute in ``complete_when`` is set.
    Purchases in sensitive categories the person has not unlocked never reach a programme
    (no cross-sell or replenishment reminder built on them).
    """
    consents = {str(purpose.value): c.granted for purpose, c in profile.consent.items()}
    return Person(
        profile_id=profile.profile_id,
        stage=str(profile.stage.value),
        known=not profile.anonymous,
        language=profile.language,
        timezone=profile.timezone,
        consents=consents,
        channel_preferences=[str(c.value) for c in profile.channel_preferences],
        birthday=profile.birthday,
        first_order_at=profile.rfm.first_order_at,
        orders=profile.rfm.orders,
        monetary=profile.rfm.revenue,
        bought_categories=sensitivity.usable_categories(
            profile.rfm.last_order_categories, consents
        ),
        cart_items=sum(item.quantity for item in profile.cart.items),
        profile_complete=all(getattr(profile.known, name, None) for name in complete_when),
        problem_moments=sum(1 for mark in profile.last_intents if mark.moment == "problem"),
    )


def check_conditions(
    conditions: Conditions,
    person: Person,
    *,
    intent: str | None = None,
    moment: str | None = None,
) -> tuple[bool, list[str]]:
    """Whether ``person`` qualifies, and the reasons (what held, or what did not)."""
    results: list[tuple[bool, str]] = []
    if conditions.stages:
        results.append((person.stage in conditions.stages,
                        f"stage {person.stage} {_in(person.stage in conditions.stages)} "
                        f"{', '.join(conditions.stages)}"))
    if conditions.known is not None:
        results.append((person.known == conditions.known,
                        "known person" if person.known else "anonymous person"))
    if conditions.profile_incomplete is not None:
        held = (not person.profile_complete) == conditions.profile_incomplete
        results.append((held, "profile incomplete" if not person.profile_complete
                        else "profile complete"))
    if conditions.has_cart is not None:
        held = (person.cart_items > 0) == conditions.has_cart
        results.append((held, f"{person.cart_items} item(s) in the cart"))
    if conditions.min_orders is not None:
        results.append((person.orders >= conditions.min_orders,
                        f"{person.orders} order(s), needs {conditions.min_orders}"))
    if conditions.min_monetary is not None:
        results.append((person.monetary >= conditions.min_monetary,
                        f"customer value {person.monetary:.0f} "
                        f"{'>=' if person.monetary >= conditions.min_monetary else '<'} "
                        f"{conditions.min_monetary:.0f}"))
    if conditions.min_problem_repeats is not None:
        repeats = person.problem_moments + (1 if moment == "problem" else 0)
        results.append((repeats >= conditions.min_problem_repeats,
                        f"problem moment {repeats} time(s), threshold "
                        f"{conditions.min_problem_repeats}"))
    if conditions.intents:
        held = intent in conditions.intents
        results.append((held, f"intent {intent} {_in(held)} {', '.join(conditions.intents)}"))
    if not results:
        return True, []
    if conditions.match == "any":
        passed = [why for ok, why in results if ok]
        return (True, passed) if passed else (False, [why for _, why in results])
    failed = [why for ok, why in results if not ok]
    return (False, failed) if failed else (True, [why for _, why in results])


def _in(held: bool) -> str:
    return "in" if held else "not in"
