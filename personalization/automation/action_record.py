"""A scheduled step as the person's ``actions`` record keeps it, and a worker's claim on it.

The schedule (see :mod:`personalization.automation.scheduler`) names a step by its *member*,
``<action_id>:<profile_id>``, scored by its due time in milliseconds since the epoch.
:func:`plan_record` turns the planner's decision on a step into the record to schedule.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from personalization.automation.next_action import NextAction, NextActionPlanner
from personalization.automation.person import Person
from personalization.automation.programmes import Outcome, Programme, Step, When
from personalization.store.protocols import Document

PART = "actions"
Status = Literal["pending", "sent", "cancelled", "suppressed", "skipped"]
"""``suppressed``: it could not go out (consent, cap...); ``skipped``: its moment had passed."""


class ActionRecord(NextAction):
    """A planned step as the person's ``actions`` record keeps it: the action and its fate."""

    status: Status = "pending"
    run_id: str
    parent_id: str | None = None
    when: When = "sent"
    created_at: AwareDatetime
    published_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    note: str | None = None
    outcome: Outcome | None = None
    outcome_at: AwareDatetime | None = None
    stream_id: str | None = Field(
        default=None, description="The stream entry, on the records publish returns (not stored)."
    )
    cap_field: str | None = None
    expires_at: AwareDatetime | None = Field(
        default=None, description="Published later than this, it is skipped: its moment passed."
    )

    def document(self) -> Document:
        return self.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class Claim:
    """A due step claimed by one worker until ``token`` (the lease deadline, ms since epoch)."""

    profile_id: str
    action_id: str
    token: int

    @property
    def member(self) -> str:
        return member_of(self.profile_id, self.action_id)


def due_members(records: Sequence[ActionRecord]) -> list[tuple[str, int]]:
    """The schedule entries of the pending ``records``: member and due time in ms."""
    return [(member_of(r.profile_id, r.action_id), ms(r.send_at))
            for r in records if r.status == "pending" and r.profile_id is not None]


def member_of(profile_id: str, action_id: str) -> str:
    """The schedule's name of a step: ``<action_id>:<profile_id>``."""
    return f"{action_id}:{profile_id}"


def split_member(member: str) -> tuple[str, str]:
    """``(profile_id, action_id)`` of a schedule member."""
    action_id, _, profile_id = member.partition(":")
    return profile_id, action_id


def ms(when: datetime) -> int:
    """``when`` in milliseconds since the epoch, as the schedule scores it."""
    return int(when.timestamp() * 1000)


async def plan_record(
    planner: NextActionPlanner, person: Person, programme: Programme, step: Step, due: datetime,
    run_id: str, parent: ActionRecord | None, why: list[str], now: datetime,
) -> ActionRecord:  # fmt: skip
    """The planner's decision on one step as the record to schedule: the action, or the step
    marked ``suppressed`` with the reason (consent, cap, no content...), so it stays visible."""
    plan = await planner.plan(person, programme, step, due, now)
    base = {"run_id": run_id, "parent_id": parent.action_id if parent else None,
            "when": step.when, "created_at": now}
    if plan.action is not None:
        return ActionRecord.model_validate({
            **plan.action.model_dump(), **base,
            "reasons": [*why, *plan.action.reasons], "cap_field": plan.cap_field,
        })
    return ActionRecord.model_validate({
        "action_id": uuid.uuid4().hex, "profile_id": person.profile_id,
        "type": step.type, "programme": programme.id, "step": step.id,
        "channel": step.channels[0], "send_at": max(due, now), "content_id": None,
        "priority": step.priority, "incentive": step.incentive,
        "transactional": step.transactional, "reasons": [*why, *plan.reasons],
        "status": "suppressed", "closed_at": now, "note": plan.reasons[0], **base,
    })


def skipped_record(
    person: Person, programme: Programme, step: Step, due: datetime, run_id: str,
    parent: ActionRecord | None, why: list[str], reason: str, now: datetime,
) -> ActionRecord:  # fmt: skip
    """A step whose moment has passed, kept as ``skipped`` (at the moment it was meant for) with
    the reason, so a late event leaves a visible trace and sends nothing."""
    return ActionRecord.model_validate({
        "action_id": uuid.uuid4().hex, "profile_id": person.profile_id,
        "type": step.type, "programme": programme.id, "step": step.id,
        "channel": step.channels[0], "send_at": due, "content_id": None,
        "priority": step.priority, "incentive": step.incentive,
        "transactional": step.transactional, "reasons": [*why, reason],
        "status": "skipped", "closed_at": now, "note": reason, "run_id": run_id,
        "parent_id": parent.action_id if parent else None, "when": step.when, "created_at": now,
    })
