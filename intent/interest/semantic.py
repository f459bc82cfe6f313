"""The semantic fallback: a text's similarity to each category's descriptions, labels, synonyms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from intent.interest.taxonomy import Taxonomy

if TYPE_CHECKING:  # the encoder module imports scikit-learn; a reader without one need not
    from intent.encoder import Encoder


@dataclass(frozen=True, slots=True)
class SemanticMatch:
    """The nearest category of a text, its cosine and the text it was nearest to."""

    category: str
    similarity: float
    nearest: str


class SemanticMatcher:
    """Cosine of texts against each category's prototypes: its descriptions, labels and
    synonyms in both languages (the nearest prototype counts).

    The prototypes are embedded once, here (a few hundred texts; about a second with ``use``).
    :meth:`match` returns, per text, the nearest
    category when its cosine reaches ``threshold`` and beats the next category by ``margin``,
    else ``None``: a text near two topics, or near none, names none.
    """

    def __init__(
        self, taxonomy: Taxonomy, encoder: Encoder, *, threshold: float, margin: float
    ) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self.margin = margin
        self._texts: list[str] = []
        self._owners: list[int] = []
        self._ids = list(taxonomy.ids)
        for index, category in enumerate(taxonomy.categories):
            for text in (
                category.descriptions.de,
                category.descriptions.en,
                category.labels.de,
                category.labels.en,
                *category.synonyms.all(),
            ):
                self._texts.append(text)
                self._owners.append(index)
        self._vectors = encoder.encode(self._texts)

    def similarities(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), categories)``: each text's best cosine per category."""
        return self._best(self._cosines(texts))

    def match(self, texts: Sequence[str]) -> list[SemanticMatch | None]:
        """The nearest category of each text, or ``None`` below the threshold or margin."""
        cosines = self._cosines(texts)
        best = self._best(cosines)
        found: list[SemanticMatch | None] = []
        for row in range(len(texts)):
            order = np.argsort(-best[row])
            top = float(best[row, order[0]])
            second = float(best[row, order[1]]) if len(order) > 1 else -1.0
            if top < self.threshold or top - second < self.margin:
                found.append(None)
                continue
            owner = int(order[0])
            columns = [c for c, o in enumerate(self._owners) if o == owner]
            nearest = self._texts[max(columns, key=lambda c: float(cosines[row, c]))]
            found.append(SemanticMatch(self._ids[owner], round(top, 3), nearest))
        return found

    def _cosines(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self._texts)), dtype=np.float32)
        cosines: np.ndarray = self.encoder.encode(list(texts)) @ self._vectors.T
        return cosines

    def _best(self, cosines: np.ndarray) -> np.ndarray:
        best = np.full((cosines.shape[0], len(self._ids)), -1.0, dtype=np.float32)
        for column, owner in enumerate(self._owners):
            np.maximum(best[:, owner], cosines[:, column], out=best[:, owner])
        return best
