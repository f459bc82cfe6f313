"""What worked: showings, clicks and conversions per item, slot and phase/moment, with uplift.

The decider counts into ``<namespace>:<slot>:<item>:<phase>|<moment>:<group>`` counters
(fields ``served``, ``impressions``, ``clicks``, ``conversions``, ``dismissals``, ``value``);
:func:`content_report` aggregates them. CTR is clicks per showing, with a Wilson score interval;
uplift is the treatment CTR minus the control group's CTR in the same slot (for items and
slots) or in the same phase/moment, with Newcombe's hybrid-score interval for a difference of
two proportions (both behave at small counts, where the normal approximation does not).

The report scans counters: it is for the console, not for the hot path.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from personalization.store.protocols import Counters

Z95 = 1.959963984540054
_FIELDS = ("served", "impressions", "clicks", "conversions", "dismissals", "value")
GroupBy = Literal["item", "slot", "phase_moment"]


def wilson_interval(successes: float, trials: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion; ``(0, 1)`` without trials.

    >>> wilson_interval(5, 100)
    (0.0215..., 0.1118...)
    """
    if trials <= 0:
        return 0.0, 1.0
    p = min(1.0, successes / trials)
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return low, high


def difference_interval(
    s1: float, n1: float, s2: float, n2: float, z: float = Z95
) -> tuple[float, float]:
    """Newcombe's interval for ``p1 - p2`` built from the two Wilson intervals."""
    if n1 <= 0 or n2 <= 0:
        return -1.0, 1.0
    p1, p2 = s1 / n1, s2 / n2
    l1, u1 = wilson_interval(s1, n1, z)
    l2, u2 = wilson_interval(s2, n2, z)
    d = p1 - p2
    return (
        d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class GroupStats(_Model):
    """The figures of one group (treatment or control)."""

    served: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    dismissals: int = 0
    value: float = 0.0
    ctr: float = 0.0
    ctr_low: float = 0.0
    ctr_high: float = 1.0
    conversion_rate: float = 0.0

    @classmethod
    def of(cls, totals: Mapping[str, float]) -> GroupStats:
        served = totals.get("served", 0.0)
        clicks = min(totals.get("clicks", 0.0), served) if served else 0.0
        low, high = wilson_interval(clicks, served)
        return cls(
            served=int(served),
            impressions=int(totals.get("impressions", 0.0)),
            clicks=int(totals.get("clicks", 0.0)),
            conversions=int(totals.get("conversions", 0.0)),
            dismissals=int(totals.get("dismissals", 0.0)),
            value=round(totals.get("value", 0.0), 2),
            ctr=clicks / served if served else 0.0,
            ctr_low=low,
            ctr_high=high,
            conversion_rate=totals.get("conversions", 0.0) / served if served else 0.0,
        )


class Uplift(_Model):
    """Treatment CTR minus control CTR, with a 95 % interval; ``None`` without control data."""

    absolute: float
    low: float
    high: float
    baseline_ctr: float


class ReportRow(_Model):
    """One line of the report: an item (with its slot), a slot, or a phase/moment."""

    key: str
    slot: str | None = None
    treatment: GroupStats
    control: GroupStats
    uplift: Uplift | None


class ContentReport(_Model):
    group_by: GroupBy
    rows: list[ReportRow]
    total: ReportRow


def _uplift(treatment: Mapping[str, float], control: Mapping[str, float]) -> Uplift | None:
    n1, n2 = treatment.get("served", 0.0), control.get("served", 0.0)
    if n1 <= 0 or n2 <= 0:
        return None
    s1 = min(treatment.get("clicks", 0.0), n1)
    s2 = min(control.get("clicks", 0.0), n2)
    low, high = difference_interval(s1, n1, s2, n2)
    return Uplift(absolute=s1 / n1 - s2 / n2, low=low, high=high, baseline_ctr=s2 / n2)


def _add(into: dict[str, float], values: Mapping[str, float]) -> None:
    for name in _FIELDS:
        into[name] = into.get(name, 0.0) + values.get(name, 0.0)


_Groups = dict[str, dict[str, float]]
"""``{"treatment": totals, "control": totals}``."""


def _groups() -> _Groups:
    return {"treatment": {}, "control": {}}


async def content_report(
    counters: Counters, *, group_by: GroupBy = "item", namespace: str = "stats"
) -> ContentReport:
    """Aggregate the decision counters.

    ``group_by="item"``: one row per item, uplift against the control group of the item's slot;
    ``"slot"``: one row per slot; ``"phase_moment"``: one row per recognised phase|moment,
    uplift against the control group in the same phase|moment. Rows are sorted by showings.
    """
    cells = _cells(await counters.scan_counters(f"{namespace}:*"), namespace)
    rows: dict[tuple[str, str | None], _Groups] = defaultdict(_groups)
    slot_totals: dict[str, _Groups] = defaultdict(_groups)
    total = _groups()
    for (slot, item, phase_moment, group), values in cells.items():
        if group not in total:
            continue
        row_key: tuple[str, str | None] = {
            "item": (item, slot),
            "slot": (slot, slot),
            "phase_moment": (phase_moment, None),
        }[group_by]
        _add(rows[row_key][group], values)
        _add(slot_totals[slot][group], values)
        _add(total[group], values)

    out = [_row(key, row_slot, groups, slot_totals, group_by)
           for (key, row_slot), groups in rows.items()]  # fmt: skip
    out.sort(key=lambda row: (-(row.treatment.served + row.control.served), row.key))
    return ContentReport(
        group_by=group_by,
        rows=out,
        total=ReportRow(
            key="total",
            treatment=GroupStats.of(total["treatment"]),
            control=GroupStats.of(total["control"]),
            uplift=_uplift(total["treatment"], total["control"]),
        ),
    )


def _cells(
    raw: Mapping[str, Mapping[str, float]], namespace: str
) -> dict[tuple[str, str, str, str], dict[str, float]]:
    """The counters by ``(slot, item, phase|moment, group)``; other keys are skipped."""
    cells: dict[tuple[str, str, str, str], dict[str, float]] = defaultdict(dict)
    for key, values in raw.items():
        parts = key[len(namespace) + 1 :].split(":")
        if len(parts) != 4:
            continue
        slot, item, phase_moment, group = parts
        _add(cells[(slot, item, phase_moment, group)], values)
    return cells


def _row(
    key: str,
    row_slot: str | None,
    groups: _Groups,
    slot_totals: Mapping[str, _Groups],
    group_by: GroupBy,
) -> ReportRow:
    baseline = (
        slot_totals[row_slot]["control"] if group_by == "item" and row_slot else groups["control"]
    )
    return ReportRow(
        key=key,
        slot=row_slot,
        treatment=GroupStats.of(groups["treatment"]),
        control=GroupStats.of(groups["control"]),
        uplift=_uplift(groups["treatment"], baseline),
    )
