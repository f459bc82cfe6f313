"""A/B tests of content variants in a slot: sticky assignment, honest statistics, clear ownership.

A test puts two or more content items of one slot against each other with fixed shares and a goal
(``click``, ``conversion`` or an event type such as ``purchase``). The first variant is the
control. While a test is running:

- **the test owns its slot**: the decision layer asks :meth:`ABTests.override_for` before the
  bandit and, when it answers, shows that variant and puts the answer's reason into the item's
  reasons, so nobody wonders why the bandit did not choose. Only one running test per slot;
- **assignment is sticky**: a hash of test id and person id picks the variant, the same on every
  worker and every day, without storing anything; the person's first exposure and first goal are
  recorded in their ``ab`` record (audit, export, erasure) and counted once per person in the
  shared counters ``ab:<test>:<variant>`` (``n`` participants, ``c`` converted);
- **the goal** is reported by the feedback and event paths through :meth:`ABTests.record_goal`.

Stop rules that do not cheat (peeking at a fixed-sample test and stopping when it looks good
inflates false positives far beyond alpha):

``fixed_horizon``
    The sample size per variant is computed when the test is defined, from the baseline rate,
    the smallest relative effect worth detecting, alpha and power (two-sided two-proportion
    z-test, Bonferroni over the comparisons with the control). Participants beyond it are not
    counted; before it is reached the results show counts and rates but no verdict and no p-value.
``sequential`` (default)
    A mixture sequential probability ratio test (mSPRT, Johari et al. 2017) on the difference of
    each variant's rate from the control's, with a normal mixing distribution of standard
    deviation ``tau``. Its p-values and confidence intervals are *always valid*: they may be
    looked at after every visitor and the test stopped the first time ``p <= alpha`` without
    inflating the error rate. ``max_participants`` per variant ends an inconclusive test.

The statistics are pure functions in :mod:`personalization.experiments.abstats`, tested on seeded
simulations in ``tests/personalization/experiments/test_abtests.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from personalization.clock import Clock, system_clock
from personalization.errors import ABTestConflict, ABTestNotFound, InvalidABTest
from personalization.experiments.abresults import ABTestResults, analyse
from personalization.experiments.abtest import ID_PATTERN, ABTest, ABTestFields, assign
from personalization.experiments.definitions import DefinitionStore
from personalization.store.protocols import Counters, PersonalRecords

if TYPE_CHECKING:
    from personalization.profiles.events import Event
    from personalization.profiles.profile import Profile, Transition

KIND = "abtest"
PART = "ab"
# -- the service ----------------------------------------------------------------------------------
class Override(NamedTuple):
    """What the decision layer shows in a slot under test, and the reason to show with it."""

    item_id: str
    reason: str


@dataclass(slots=True)
class _Stores:
    definitions: DefinitionStore
    counters: Counters
    records: PersonalRecords


class ABTests:
    """Define, run and analyse A/B tests; see the module docstring.

    >>> tests = ABTests(definitions, counters=store, records=store)
    >>> override = await tests.override_for("hero", person_id, now)   # in the decider
    >>> await tests.record_goal(person_id, "click", now, item_id=item_id)  # on feedback
    """

    def __init__(
        self,
        definitions: DefinitionStore,
        *,
        counters: Counters,
        records: PersonalRecords,
        record_ttl: timedelta = timedelta(days=180),
        goal_window: timedelta = timedelta(days=1),
        refresh: timedelta = timedelta(seconds=10),
        clock: Clock = system_clock,
    ) -> None:
        self._stores = _Stores(definitions, counters, records)
        self.record_ttl = record_ttl
        self.goal_window = goal_window
        self.refresh = refresh
        self.clock = clock
        self._running: dict[str, ABTest] = {}  # by slot
        self._scoring: list[ABTest] = []  # running, or stopped less than goal_window ago
        self._loaded_at: datetime | None = None

    # -- definitions ------------------------------------------------------------------------------
    async def get(self, test_id: str) -> ABTest:
        document = await self._stores.definitions.get_definition(KIND, test_id)
        if document is None:
            raise ABTestNotFound(test_id)
        return ABTest.model_validate(document)

    async def all(self) -> list[ABTest]:
        documents = await self._stores.definitions.all_definitions(KIND)
        return sorted((ABTest.model_validate(d) for d in documents.values()), key=lambda t: t.id)

    async def put(self, test_id: str, fields: ABTestFields) -> ABTest:
        """Create or redefine a test. Only a draft can be redefined (shares and horizon are fixed
        once it runs). Raises :class:`ABTestConflict`, :class:`InvalidABTest`."""
        if not re.match(ID_PATTERN, test_id):
            raise InvalidABTest("a test id is 1-40 characters: a-z, 0-9, _ or -, starting "
                                "with a letter or digit")  # fmt: skip
        existing = await self._stores.definitions.get_definition(KIND, test_id)
        if existing is not None and existing.get("status") != "draft":
            raise ABTestConflict(f"A/B test {test_id!r} is {existing['status']}; only a draft "
                                 "can be changed (define a new test instead)")  # fmt: skip
        created = (
            ABTest.model_validate(existing).created_at if existing is not None else self.clock()
        )
        test = ABTest(
            id=test_id, created_at=created, required_per_variant=fields.horizon(),
            **fields.model_dump(),
        )  # fmt: skip
        await self._save(test)
        return test

    async def start(self, test_id: str) -> ABTest:
        """Start a draft. Raises :class:`ABTestConflict` when another test runs on the slot."""
        test = await self.get(test_id)
        if test.status != "draft":
            raise ABTestConflict(f"A/B test {test_id!r} is {test.status}, not a draft")
        for other in await self.all():
            if other.status == "running" and other.slot == test.slot:
                raise ABTestConflict(f"A/B test {other.id!r} already runs on slot "
                                     f"{test.slot!r}; stop it first")  # fmt: skip
        started = test.model_copy(update={"status": "running", "started_at": self.clock()})
        await self._save(started)
        return started

    async def stop(self, test_id: str, reason: str = "stopped by a marketer") -> ABTest:
        test = await self.get(test_id)
        if test.status != "running":
            raise ABTestConflict(f"A/B test {test_id!r} is {test.status}, not running")
        stopped = test.model_copy(
            update={"status": "stopped", "stopped_at": self.clock(), "stop_reason": reason}
        )
        await self._save(stopped)
        return stopped

    async def delete(self, test_id: str) -> None:
        test = await self.get(test_id)
        if test.status == "running":
            raise ABTestConflict(f"A/B test {test_id!r} is running; stop it first")
        await self._stores.definitions.delete_definition(KIND, test_id)

    async def _save(self, test: ABTest) -> None:
        await self._stores.definitions.put_definition(KIND, test.id, test.model_dump(mode="json"))
        self._loaded_at = None  # this process sees its own change at once

    # -- results ----------------------------------------------------------------------------------
    async def counts(self, test: ABTest) -> list[tuple[int, int]]:
        rows = await self._stores.counters.get_many(
            [_counter_key(test.id, v.name) for v in test.variants]
        )
        return [(int(row.get("n", 0)), int(row.get("c", 0))) for row in rows]

    async def results(self, test_id: str) -> ABTestResults:
        """The test's results; a running test whose stop rule is met is stopped here."""
        test = await self.get(test_id)
        results = analyse(test, await self.counts(test))
        if test.status == "running" and results.decided:
            test = await self.stop(test_id, f"stop rule met: {results.verdict}")
            results = results.model_copy(update={"status": test.status})
        return results

    # -- real time --------------------------------------------------------------------------------
    async def _fresh(self) -> None:
        now = self.clock()
        if self._loaded_at is not None and now - self._loaded_at < self.refresh:
            return
        running: dict[str, ABTest] = {}
        for test in await self.all():
            if test.status == "running" and analyse(test, await self.counts(test)).decided:
                await self.results(test.id)  # stops it, recording why
                test = await self.get(test.id)
            if test.status == "running":
                running[test.slot] = test
        self._running = running
        self._scoring = [
            test for test in await self.all()
            if test.status == "running"
            or (test.stopped_at is not None and now - test.stopped_at < self.goal_window)
        ]  # fmt: skip
        self._loaded_at = now

    async def running_on(self, slot: str) -> ABTest | None:
        await self._fresh()
        return self._running.get(slot)

    async def override_for(self, slot: str, person_id: str, now: datetime) -> Override | None:
        """The variant to show ``person_id`` in ``slot`` while a test runs there, else ``None``.

        Counts the person as a participant on their first exposure (once per person) and keeps
        the exposure in their ``ab`` record. The decision layer must show ``item_id`` instead of
        the bandit's choice and add ``reason`` to the item's reasons. When it may not show the
        item (not eligible, control group), it should call :meth:`variant_for` first and
        :meth:`expose` only when it shows the variant, so that only real exposures count.
        """
        test = await self.running_on(slot)
        if test is None:
            return None
        index = assign(test.id, person_id, test.shares)
        variant = test.variants[index]
        await self.expose(test, index, person_id)
        return Override(
            variant.item_id,
            f"A/B test {test.id}: variant {variant.name} ({variant.share:.0%} share, sticky per "
            f"person); the bandit does not choose in slot {slot} while the test runs",
        )

    async def variant_for(self, slot: str, person_id: str) -> tuple[ABTest, int] | None:
        """The running test of ``slot`` and the person's variant index, without counting."""
        test = await self.running_on(slot)
        return (test, assign(test.id, person_id, test.shares)) if test is not None else None

    async def expose(self, test: ABTest, index: int, person_id: str) -> bool:
        """Count ``person_id`` as a participant of variant ``index`` once; ``True`` if new."""
        variant = test.variants[index]
        marker = f"{test.id}:{variant.name}:exposed"
        horizon = test.required_per_variant
        if horizon is not None:
            seen = await self._stores.records.get_personal_counters(person_id, PART)
            if marker not in seen:
                (row,) = await self._stores.counters.get_many([_counter_key(test.id, variant.name)])
                if row.get("n", 0) >= horizon:
                    return False  # the horizon is full: later people see the variant, uncounted
        mine = await self._stores.records.incr_personal(
            person_id, PART, {marker: 1}, ttl=self.record_ttl
        )
        if mine[marker] != 1:
            return False
        await self._stores.counters.incr(_counter_key(test.id, variant.name), {"n": 1})
        return True

    async def record_goal(
        self, person_id: str, event: str, now: datetime, *, item_id: str | None = None
    ) -> list[str]:
        """Count ``event`` as the goal of every test the person takes part in whose goal it is,
        once per person; returns the ids of the tests that counted it.

        Tests count goals while they run and for ``goal_window`` after they stopped (so the last
        participants of a fixed horizon are not cut off). With ``item_id`` (a click or
        conversion on a shown item) only a test whose variant for this person is that item
        counts it.
        """
        await self._fresh()
        tests = [t for t in self._scoring if t.goal == event]
        if not tests:
            return []
        seen = await self._stores.records.get_personal_counters(person_id, PART)
        counted = []
        for test in tests:
            variant = test.variants[assign(test.id, person_id, test.shares)]
            if f"{test.id}:{variant.name}:exposed" not in seen:
                continue
            if item_id is not None and item_id != variant.item_id:
                continue
            marker = f"{test.id}:{variant.name}:converted"
            mine = await self._stores.records.incr_personal(
                person_id, PART, {marker: 1}, ttl=self.record_ttl
            )
            if mine[marker] == 1:
                await self._stores.counters.incr(_counter_key(test.id, variant.name), {"c": 1})
                counted.append(test.id)
        return counted


    async def on_events(
        self, profile: Profile, events: Sequence[Event], transitions: Sequence[Transition]
    ) -> None:
        """Profile-service listener: each event type is a goal (``purchase`` also counts as
        ``conversion``) of the tests this person takes part in. Clicks on shown items come
        through the feedback path instead (:meth:`record_goal` with ``item_id``)."""
        now = self.clock()
        for event in events:
            for goal in (event.type, *(("conversion",) if event.type == "purchase" else ())):
                await self.record_goal(profile.profile_id, goal, now)


def _counter_key(test_id: str, variant: str) -> str:
    return f"ab:{test_id}:{variant}"
