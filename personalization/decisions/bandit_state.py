"""The bandit's posterior statistics in the shared counters, and the context they are kept in.

Every showing adds the item's prior CTR to its expected clicks ``e`` and 1 to its showings ``n``,
every click adds 1 to its clicks ``c``, per item overall (``_all``) and per context group (see
:mod:`personalization.decisions.policies` for the model). :class:`BanditState` reads the
candidates' rows in one round trip and batches the updates with the decision's other counters;
:class:`StatsTable` holds the rows of several slots' candidates read at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from personalization.decisions.models import DecisionContext
from personalization.store.protocols import Counters


@dataclass(frozen=True, slots=True)
class ArmStats:
    """Posterior statistics per candidate (columns).

    ``expected`` and ``clicks`` have one row per context group (one for a joint context, one
    per feature when factorised; 1-D arrays are read as one group); ``item_expected``,
    ``item_clicks`` and ``served`` are over all contexts.
    """

    served: np.ndarray
    expected: np.ndarray
    clicks: np.ndarray
    item_expected: np.ndarray
    item_clicks: np.ndarray

    @classmethod
    def empty(cls, k: int) -> ArmStats:
        return cls(np.zeros(k), np.zeros((1, k)), np.zeros((1, k)), np.zeros(k), np.zeros(k))

    @classmethod
    def from_counters(
        cls,
        groups: Sequence[Sequence[Mapping[str, float]]],
        item_rows: Sequence[Mapping[str, float]],
    ) -> ArmStats:
        def column(source: Sequence[Mapping[str, float]], name: str) -> np.ndarray:
            return np.asarray([row.get(name, 0.0) for row in source], dtype=np.float64)

        k = len(item_rows)
        return cls(
            column(item_rows, "n"),
            np.asarray([column(rows, "e") for rows in groups]).reshape(len(groups), k),
            np.asarray([column(rows, "c") for rows in groups]).reshape(len(groups), k),
            column(item_rows, "e"),
            column(item_rows, "c"),
        )


@dataclass(frozen=True, slots=True)
class StatsTable:
    """The counter rows of a set of items in one context, read at once.

    ``groups`` holds one ``{item_id: row}`` per context group, ``overall`` the items' rows over
    all contexts. :meth:`arms` picks the columns of some of the items, in their order.
    """

    groups: tuple[Mapping[str, Mapping[str, float]], ...]
    overall: Mapping[str, Mapping[str, float]]

    def arms(self, item_ids: Sequence[str]) -> ArmStats:
        """The statistics of ``item_ids`` (each must have been read). Raises ``KeyError``."""
        return ArmStats.from_counters(
            [[group[i] for i in item_ids] for group in self.groups],
            [self.overall[i] for i in item_ids],
        )


def context_key(context: DecisionContext, features: Sequence[str], factorised: bool = True) -> str:
    """The bandit context of a request.

    Joint: ``"consider|buy"`` for ``("phase", "moment")``, one statistic per combination.
    Factorised: ``"phase=consider&moment=buy"``, one statistic per feature value, multiplied
    (learns faster, assumes the features act independently).
    """
    values = {
        "phase": context.phase,
        "moment": context.moment,
        "device": context.device,
        "lifecycle": context.lifecycle,
        "language": context.language,
    }
    if factorised and features:
        return "&".join(f"{name}={values[name]}" for name in features)
    return "|".join(values[name] for name in features) or "all"


class BanditState:
    """The posterior statistics in the shared counters: per item and context, and per item."""

    ALL = "_all"

    def __init__(self, counters: Counters, *, namespace: str = "bandit") -> None:
        self.counters = counters
        self.namespace = namespace

    def key(self, item_id: str, context: str) -> str:
        return f"{self.namespace}:{item_id}:{context}"

    async def load(self, item_ids: Sequence[str], context: str) -> ArmStats:
        """The statistics of the candidates, in one round trip."""
        return (await self.read(item_ids, context)).arms(item_ids)

    async def read(self, item_ids: Sequence[str], context: str) -> StatsTable:
        """The rows of ``item_ids`` in ``context`` and overall, in one round trip."""
        groups = context.split("&")
        keys = [self.key(i, g) for g in groups for i in item_ids]
        keys += [self.key(i, self.ALL) for i in item_ids]
        rows = await self.counters.get_many(keys)
        k = len(item_ids)
        return StatsTable(
            tuple(dict(zip(item_ids, rows[n * k : (n + 1) * k], strict=True))
                  for n in range(len(groups))),
            dict(zip(item_ids, rows[len(groups) * k :], strict=True)),
        )  # fmt: skip

    async def partial_fit(
        self,
        item_id: str,
        context: str,
        *,
        served: float = 0.0,
        expected: float = 0.0,
        reward: float = 0.0,
    ) -> None:
        """Add one observation (a showing with its prior CTR, and/or a reward) to the item's
        statistics in ``context`` and overall, in one round trip."""
        await self.counters.incr_many(
            self.updates(item_id, context, served=served, expected=expected, reward=reward))

    def updates(
        self,
        item_id: str,
        context: str,
        *,
        served: float = 0.0,
        expected: float = 0.0,
        reward: float = 0.0,
    ) -> list[tuple[str, dict[str, float]]]:
        """The counter updates of :meth:`partial_fit`, to batch with other writes."""
        amounts = {k: v for k, v in {"n": served, "e": expected, "c": reward}.items() if v}
        if not amounts:
            return []
        return [(self.key(item_id, group), amounts)
                for group in (*context.split("&"), self.ALL)]  # fmt: skip
