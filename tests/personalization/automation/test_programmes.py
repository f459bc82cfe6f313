"""Programmes as data: the default set, the YAML round trip, and errors a marketer can act on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from personalization.automation.programmes import (
    dumps_programmes,
    load_programmes,
    loads_programmes,
    parse_duration,
)
from personalization.errors import InvalidProgramme

MINIMAL = """
programmes:
  - id: cart_abandonment
    name: Cart
    trigger: {event: add_to_cart}
    action: {id: reminder, type: cart_reminder, channels: [email], delay: 1h}
    follow_ups:
      - {id: second, type: cart_incentive, channels: [email], delay: 1d}
      - {id: clicked, type: thanks, channels: [email], after: reminder, when: clicked}
"""


def test_the_default_programmes_cover_the_lifecycle() -> None:
    programmes = load_programmes()
    assert {p.id for p in programmes} >= {
        "welcome", "cart_abandonment", "browse_abandonment", "post_purchase", "birthday",
        "order_anniversary", "reactivation", "retention_offer", "human_handover",
    }
    cart = programmes.get("cart_abandonment")
    assert cart is not None and [s.id for s in cart.steps] == ["reminder", "incentive"]
    assert cart.action.delay == timedelta(hours=1) and cart.follow_ups[0].incentive
    post = programmes.get("post_purchase")
    assert post is not None and post.action.transactional
    assert programmes.get("human_handover").trigger.moment == ["problem"]  # type: ignore[union-attr]


def test_yaml_round_trip_keeps_every_field() -> None:
    programmes = load_programmes()
    assert loads_programmes(dumps_programmes(programmes)) == programmes


def test_follow_ups_follow_the_previous_step_unless_they_name_one() -> None:
    (programme,) = loads_programmes(MINIMAL)
    reminder, second, clicked = programme.steps
    assert programme.parent_of(second) == reminder
    assert programme.parent_of(clicked) == reminder
    assert programme.children_of(reminder) == [second, clicked]
    assert programme.children_of(second) == []


@pytest.mark.parametrize("value, expected", [
    ("30m", timedelta(minutes=30)), ("1h", timedelta(hours=1)), ("3d", timedelta(days=3)),
    ("2w", timedelta(weeks=2)), (90, timedelta(seconds=90)), ("1.5h", timedelta(minutes=90)),
])
def test_durations(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize("change, field, message", [
    ("delay: 1h", "programmes.0(cart_abandonment).action.delay", "'1 hour' is not a duration"),
    ("channels: [email]", "programmes.0(cart_abandonment).action.channels.0",
     "'web', 'chat', 'email'"),
    ("trigger: {event: add_to_cart}", "programmes.0(cart_abandonment).trigger",
     "exactly one of event, lifecycle, phase, moment or date (got event, moment)"),
    ("after: reminder", "programmes.0(cart_abandonment)", "'nowhere', which is not an earlier"),
])
def test_errors_name_the_programme_and_the_field(change: str, field: str, message: str) -> None:
    broken = {
        "delay: 1h": "delay: 1 hour",
        "channels: [email]": "channels: [fax]",
        "trigger: {event: add_to_cart}": "trigger: {event: add_to_cart, moment: buy}",
        "after: reminder": "after: nowhere",
    }[change]
    with pytest.raises(InvalidProgramme) as caught:
        loads_programmes(MINIMAL.replace(change, broken, 1))
    assert any(e["field"] == field and message in e["message"] for e in caught.value.errors), \
        caught.value.errors
    assert str(caught.value).startswith("invalid programmes: ")


def test_duplicate_ids_and_realtime_follow_ups_are_refused() -> None:
    doubled = MINIMAL + MINIMAL.split("programmes:\n", 1)[1]
    with pytest.raises(InvalidProgramme, match="programme ids must be unique: cart_abandonment"):
        loads_programmes(doubled)
    with pytest.raises(InvalidProgramme, match="real-time"):
        loads_programmes(MINIMAL.replace("{event: add_to_cart}", "{phase: churn}"))


def test_bad_yaml_and_wrong_shapes(tmp_path: Path) -> None:
    with pytest.raises(InvalidProgramme) as caught:
        loads_programmes("programmes:\n  - id: x\n    name: [unclosed\n")
    assert caught.value.errors[0]["field"].startswith("line ")
    assert "not valid YAML" in caught.value.errors[0]["message"]
    with pytest.raises(InvalidProgramme, match="expected a mapping"):
        loads_programmes("just text")
    file = tmp_path / "mine.yml"
    file.write_text(MINIMAL.replace("channels: [email], delay: 1h", "channels: []"))
    with pytest.raises(InvalidProgramme) as caught:
        load_programmes(file)
    assert caught.value.errors[0]["field"] == "mine.yml: programmes.0(cart_abandonment)" \
        ".action.channels"
