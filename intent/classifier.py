"""The intent classifier: an :class:`~intent.encoder.Encoder` body with a logistic-regression head.

Follows scikit-learn's estimator conventions: ``__init__`` only stores hyperparameters,
``fit(texts, labels)`` returns ``self``, learned state ends in ``_`` and ``predict`` /
``predict_proba`` raise :class:`~sklearn.exceptions.NotFittedError` before ``fit``.

Out-of-scope text is recognised twice over: by ``out_of_scope`` training examples (a class of
its own) and by a confidence threshold; ambiguity (``unknown``) by the margin between the two
best intents. :func:`choose_thresholds` picks both on validation data, and they ship with the
saved model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from intent.catalog import OUT_OF_SCOPE, UNKNOWN
from intent.encoder import Encoder

Status = Literal["intent", "unknown", "out_of_scope", "no_words"]


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds, chosen on validation data and saved with the model.

    ``oos``: below this in-scope confidence the text is out of scope.
    ``margin``: below this gap between the best two intents the answer is ``unknown``.
    ``axis``: below this fused confidence a phase or moment is ``unknown``.
    """

    oos: float = 0.2
    margin: float = 0.05
    axis: float = 0.4

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """What one probability row means: the answer, its confidence and why."""

    label: str
    confidence: float
    status: Status


class IntentClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Frozen sentence encoder plus a multinomial logistic-regression head.

    Parameters are pinned explicitly: ``C`` (inverse L2 strength; embeddings are unit vectors,
    so it is large), ``class_weight``, ``max_iter`` and ``random_state``.

    >>> from intent.encoder import HashingEncoder
    >>> clf = IntentClassifier(HashingEncoder(), random_state=0)
    >>> clf = clf.fit(["where is my order", "return this"], ["track_order", "return_item"])
    >>> clf.predict(["where is my parcel"]).tolist()
    ['track_order']
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        C: float = 30.0,
        class_weight: str | None = "balanced",
        max_iter: int = 2000,
        random_state: int | None = None,
    ) -> None:
        self.encoder = encoder
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, texts: Sequence[str], y: Sequence[str]) -> IntentClassifier:
        """Encode ``texts`` and fit the head on ``y``; needs at least two distinct labels."""
        return self.fit_embeddings(self.encoder.encode(texts), y)

    def fit_embeddings(self, X: np.ndarray, y: Sequence[str] | np.ndarray) -> IntentClassifier:
        """Fit the head on already encoded rows (used when embeddings are cached on disk)."""
        labels = np.asarray(list(y), dtype=object)
        assert len(labels) == len(X), "texts and labels differ in length"
        head = LogisticRegression(
            C=self.C,
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )
        # One BLAS thread: the head is small, and on a shared 2-core machine multi-threaded
        # BLAS oversubscribes and was measured 15x slower (85 s vs 5.5 s on BANKING77).
        with threadpool_limits(limits=1):
            head.fit(X, labels)
        self._set_head(head.classes_, head.coef_, head.intercept_)
        return self

    def _set_head(
        self,
        classes: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        temperature: float = 1.0,
    ) -> None:
        coef = np.asarray(coef, dtype=np.float32)
        intercept = np.asarray(intercept, dtype=np.float32)
        if coef.shape[0] == 1 and len(classes) == 2:
            # Binary heads hold one weight vector; softmax over (-z/2, z/2) equals sigmoid(z).
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        self.classes_ = np.asarray([str(c) for c in classes], dtype=object)
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_features_in_ = coef.shape[1]
        self.temperature_ = float(temperature)

    @classmethod
    def from_parameters(
        cls,
        encoder: Encoder,
        classes: Sequence[str],
        coef: np.ndarray,
        intercept: np.ndarray,
        temperature: float = 1.0,
        **params: Any,
    ) -> IntentClassifier:
        """Rebuild a fitted classifier from saved head parameters (see :mod:`intent.registry`)."""
        clf = cls(encoder, **params)
        clf._set_head(np.asarray(list(classes), dtype=object), coef, intercept, temperature)
        return clf

    def decision_function_embeddings(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, ["classes_", "coef_"])
        scores: np.ndarray = X @ self.coef_.T + self.intercept_
        return scores

    def predict_proba_embeddings(self, X: np.ndarray) -> np.ndarray:
        """Softmax of the scores divided by ``temperature_`` (1.0 until calibrated)."""
        return softmax(self.decision_function_embeddings(X) / self.temperature_)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, len(classes_))`` probabilities; rows sum to 1."""
        check_is_fitted(self, ["classes_", "coef_"])
        return self.predict_proba_embeddings(self.encoder.encode(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable class per text (thresholds are applied by :func:`decide`)."""
        proba = self.predict_proba(texts)
        labels: np.ndarray = self.classes_[proba.argmax(axis=1)]
        return labels


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64."""
    out = np.asarray(scores, dtype=np.float64).copy()
    out -= out.max(axis=1, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def fit_temperature(scores: np.ndarray, y_index: np.ndarray) -> float:
    """The temperature that minimises the log-loss of held-out scores (temperature scaling).

    ``scores`` are raw head scores of examples the head did not see, ``y_index`` the column
    of the true class. T > 1 softens over-confident probabilities, T < 1 sharpens them.
    """
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(y_index))

    def nll(log_t: float) -> float:
        proba = softmax(scores / np.exp(log_t))
        return float(-np.mean(np.log(np.clip(proba[rows, y_index], 1e-12, None))))

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def _in_scope_top2(proba: np.ndarray, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Index of the best in-scope class and the gap to the second best, per row."""
    in_scope = proba.copy()
    if OUT_OF_SCOPE in classes:
        in_scope[:, list(classes).index(OUT_OF_SCOPE)] = -1.0
    if in_scope.shape[1] < 2:
        return np.zeros(len(proba), dtype=int), in_scope[:, 0]
    part = np.argpartition(-in_scope, 1, axis=1)[:, :2]
    rows = np.arange(len(proba))
    first, second = in_scope[rows, part[:, 0]], in_scope[rows, part[:, 1]]
    swap = second > first
    best = np.where(swap, part[:, 1], part[:, 0])
    gap = np.abs(first - second)
    return best, gap


def decide(proba: np.ndarray, classes: Sequence[str], thresholds: Thresholds) -> list[Decision]:
    """Turn probability rows into decisions.

    - ``out_of_scope`` if the ``out_of_scope`` class wins or the best in-scope probability
      is below ``thresholds.oos``;
    - ``unknown`` if the best two in-scope intents are closer than ``thresholds.margin``;
    - else the best intent. ``confidence`` is always the best in-scope probability.
    """
    classes = list(classes)
    oos_index = classes.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in classes else None
    best, gap = _in_scope_top2(proba, classes)
    decisions: list[Decision] = []
    for row in range(proba.shape[0]):
        top1 = float(proba[row, best[row]])
        oos_wins = oos_index is not None and proba[row, oos_index] > top1
        if oos_wins or top1 < thresholds.oos:
            decisions.append(Decision(OUT_OF_SCOPE, top1, "out_of_scope"))
        elif gap[row] < thresholds.margin:
            decisions.append(Decision(UNKNOWN, top1, "unknown"))
        else:
            decisions.append(Decision(classes[int(best[row])], top1, "intent"))
    return decisions


def choose_thresholds(
    proba: np.ndarray,
    y_true: Sequence[str] | np.ndarray,
    classes: Sequence[str],
    *,
    axis: float = 0.4,
    oos_weight: float = 0.3,
) -> Thresholds:
    """Pick the OOS and margin thresholds on held-out probabilities.

    ``oos`` maximises ``(1 - oos_weight) · in-scope accuracy + oos_weight · OOS recall``
    (a rejected in-scope text counts as wrong); ``oos_weight`` is the share of out-of-scope
    traffic the model is tuned for. Without out-of-scope examples it is the
    1st percentile of the confidence of correct answers (at most 0.3), so that 99 % of them
    survive. ``margin`` then maximises the selective utility of the accepted answers:
    +1 correct, -1 wrong, 0 for ``unknown``.
    """
    y = np.asarray(list(y_true), dtype=object)
    is_oos = y == OUT_OF_SCOPE
    if is_oos.any():
        best_oos, best_score = 0.0, -1.0
        for t in np.round(np.arange(0.0, 0.91, 0.01), 2):
            predicted = _labels(decide(proba, classes, Thresholds(oos=float(t), margin=0.0)))
            in_acc = float(np.mean(predicted[~is_oos] == y[~is_oos])) if (~is_oos).any() else 0.0
            oos_recall = float(np.mean(predicted[is_oos] == OUT_OF_SCOPE))
            score = (1.0 - oos_weight) * in_acc + oos_weight * oos_recall
            if score > best_score + 1e-9:
                best_oos, best_score = float(t), score
    else:
        decisions = decide(proba, classes, Thresholds(oos=0.0, margin=0.0))
        correct = [d.confidence for d, t in zip(decisions, y, strict=True) if d.label == t]
        best_oos = min(0.3, float(np.quantile(correct, 0.01))) if correct else 0.0
        best_oos = float(np.floor(best_oos * 100) / 100)
    decisions = decide(proba, classes, Thresholds(oos=best_oos, margin=0.0))
    _, gap = _in_scope_top2(proba, classes)
    accepted = np.asarray([d.status == "intent" for d in decisions])
    right = np.asarray([d.label == t for d, t in zip(decisions, y, strict=True)])
    best_margin, best_utility = 0.0, -np.inf
    for m in np.round(np.arange(0.0, 0.31, 0.01), 2):
        kept = accepted & (gap >= m)
        utility = float(np.sum(np.where(right[kept], 1.0, -1.0)))
        if utility > best_utility + 1e-9:
            best_margin, best_utility = float(m), utility
    return Thresholds(oos=best_oos, margin=best_margin, axis=axis)


def _labels(decisions: Sequence[Decision]) -> np.ndarray:
    return np.asarray([d.label for d in decisions], dtype=object)
