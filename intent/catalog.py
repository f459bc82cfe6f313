"""The intent catalogue: every fine-grained intent belongs to exactly one phase and one moment.

Phases and moments are the fixed vocabulary of the domain (see DOMAIN.md); intents are data,
loaded from the training YAML, and marketers can add their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from intent.errors import TrainingDataError, UnknownIntent

Phase = Literal["explore", "consider", "purchase", "use", "churn"]
Moment = Literal["know", "go", "do", "buy", "service", "problem"]
Axis = Literal["phase", "moment"]

PHASES: tuple[str, ...] = ("explore", "consider", "purchase", "use", "churn")
MOMENTS: tuple[str, ...] = ("know", "go", "do", "buy", "service", "problem")
AXES: dict[Axis, tuple[str, ...]] = {"phase": PHASES, "moment": MOMENTS}

#: The label of out-of-scope training examples and predictions.
OUT_OF_SCOPE = "out_of_scope"
#: The honest answer when the signals do not support a confident one.
UNKNOWN = "unknown"
RESERVED_NAMES = frozenset({OUT_OF_SCOPE, UNKNOWN})

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


@dataclass(frozen=True)
class IntentSpec:
    """One fine-grained intent and where it sits in the phase × moment grid."""

    name: str
    phase: str
    moment: str
    description: str = ""

    def validate(self, source: str = "catalogue") -> None:
        """Raise :class:`TrainingDataError` naming ``source`` if a field is not allowed."""
        if not _NAME.match(self.name):
            raise TrainingDataError(
                f"{source}: intent name {self.name!r} must be snake_case "
                "(lowercase letters, digits, '_', 2-64 characters, starting with a letter)"
            )
        if self.name in RESERVED_NAMES:
            raise TrainingDataError(f"{source}: intent name {self.name!r} is reserved")
        if self.phase not in PHASES:
            raise TrainingDataError(
                f"{source}: intent {self.name!r} has phase {self.phase!r}; "
                f"allowed: {', '.join(PHASES)}"
            )
        if self.moment not in MOMENTS:
            raise TrainingDataError(
                f"{source}: intent {self.name!r} has moment {self.moment!r}; "
                f"allowed: {', '.join(MOMENTS)}"
            )


class Catalog(Mapping[str, IntentSpec]):
    """Read-only mapping ``intent name -> IntentSpec`` with phase/moment projections."""

    def __init__(self, specs: Iterable[IntentSpec]) -> None:
        self._specs: dict[str, IntentSpec] = {}
        for spec in specs:
            spec.validate()
            if spec.name in self._specs:
                raise TrainingDataError(f"catalogue: intent {spec.name!r} is defined twice")
            self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> IntentSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownIntent(f"intent {name!r} is not in the catalogue") from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def get(self, name: str, default: IntentSpec | None = None) -> IntentSpec | None:  # type: ignore[override]
        return self._specs.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def label_of(self, intent: str, axis: Axis) -> str:
        """The phase or moment of ``intent``."""
        spec = self[intent]
        return spec.phase if axis == "phase" else spec.moment

    def projection(self, classes: Sequence[str], axis: Axis) -> np.ndarray:
        """A ``(len(classes), len(AXES[axis]))`` 0/1 matrix mapping intents to phases or moments.

        Rows of classes outside the catalogue (``out_of_scope``) are all zero, so that
        ``proba @ projection`` sums the in-scope probability mass per phase or moment.
        """
        labels = AXES[axis]
        matrix = np.zeros((len(classes), len(labels)), dtype=np.float64)
        for row, name in enumerate(classes):
            if name in self._specs:
                matrix[row, labels.index(self.label_of(name, axis))] = 1.0
        return matrix

    def to_list(self) -> list[dict[str, str]]:
        return [
            {"name": s.name, "phase": s.phase, "moment": s.moment, "description": s.description}
            for s in self._specs.values()
        ]
