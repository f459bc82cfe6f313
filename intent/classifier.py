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
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
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
    """Frozen sentence encoder plus a blended head: logistic regression on the embedding, a
    lexical logistic regression on character n-grams, and the nearest training examples.

    - the **embedding** head (multinomial LR, ``C``) carries meaning across wordings and
      languages;
    - the **lexical** head (LR on hashed, TF-IDF weighted character 2-5-grams, ``lexical_C``)
      catches the product words, codes and typos an encoder blurs. Its weight is
      ``lexical_weight`` scaled by how familiar the text's n-grams are (cosine to the closest
      training example: 0 at 0.2 or below, full at 0.6 or above), so a German sentence for a
      model trained in English leans on the multilingual embedding alone;
    - the **nearest examples** component (``knn_weight``): per intent the cosine of the text to
      its closest training example, softmax at ``knn_temperature``.

    The scores are the log of the blended probabilities; ``lexical_weight=0`` and
    ``knn_weight=0`` give the plain frozen-encoder + LR head. ``fit(texts, labels)`` needs at
    least two distinct labels.

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
        lexical_weight: float = 0.5,
        lexical_C: float = 5.0,
        knn_weight: float = 0.2,
        knn_temperature: float = 0.05,
        random_state: int | None = None,
    ) -> None:
        self.encoder = encoder
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.lexical_weight = lexical_weight
        self.lexical_C = lexical_C
        self.knn_weight = knn_weight
        self.knn_temperature = knn_temperature
        self.random_state = random_state

    def fit(self, texts: Sequence[str], y: Sequence[str]) -> IntentClassifier:
        """Encode ``texts`` and fit the head on ``y``; needs at least two distinct labels."""
        return self.fit_embeddings(self.encoder.encode(texts), y, texts=texts)

    def fit_embeddings(
        self,
        X: np.ndarray,
        y: Sequence[str] | np.ndarray,
        *,
        texts: Sequence[str] | None = None,
    ) -> IntentClassifier:
        """Fit on already encoded rows (used when embeddings are cached). Without ``texts``
        the lexical head is left out."""
        labels = np.asarray(list(y), dtype=object)
        assert len(labels) == len(X), "texts and labels differ in length"
        head = self._logistic(self.C, self.max_iter, tol=1e-4)
        # One BLAS thread: the head is small, and on a shared 2-core machine multi-threaded
        # BLAS oversubscribes and was measured 15x slower (85 s vs 5.5 s on BANKING77).
        with threadpool_limits(limits=1):
            head.fit(X, labels)
        self._set_head(head.classes_, head.coef_, head.intercept_)
        classes = list(self.classes_)
        y_index = np.asarray([classes.index(str(c)) for c in labels])
        arrays: dict[str, np.ndarray] = {}
        if self.lexical_weight > 0 and texts is not None:
            assert len(texts) == len(X), "texts and embeddings differ in length"
            counts = _NGRAMS.transform(list(texts))
            df = np.bincount(counts.indices, minlength=_NGRAMS.n_features)
            idf = (np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0).astype(np.float32)
            lexical = _tfidf(counts, idf)
            lexical_head = self._logistic(self.lexical_C, 300, tol=1e-3)
            with threadpool_limits(limits=1):
                lexical_head.fit(lexical, labels)
            coef, intercept = _square(classes, lexical_head.coef_, lexical_head.intercept_)
            arrays.update(
                lexical_coef=coef,
                lexical_intercept=intercept,
                lexical_idf=idf,
                lexical_data=lexical.data.astype(np.float32),
                lexical_indices=lexical.indices.astype(np.int32),
                lexical_indptr=lexical.indptr.astype(np.int64),
            )
        if self.knn_weight > 0:
            order = np.argsort(y_index, kind="stable")
            arrays.update(
                knn_vectors=np.asarray(X, dtype=np.float32)[order],
                knn_starts=np.searchsorted(y_index[order], np.arange(len(classes))),
            )
        self._set_components(arrays)
        return self

    def _logistic(self, C: float, max_iter: int, tol: float) -> LogisticRegression:
        return LogisticRegression(
            C=C,
            class_weight=self.class_weight,
            max_iter=max_iter,
            tol=tol,
            random_state=self.random_state,
        )

    def _set_head(
        self,
        classes: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        temperature: float = 1.0,
    ) -> None:
        self.classes_ = np.asarray([str(c) for c in classes], dtype=object)
        self.coef_, self.intercept_ = _square(list(self.classes_), coef, intercept)
        self.n_features_in_ = self.coef_.shape[1]
        self.temperature_ = float(temperature)
        self._set_components({})

    def _set_components(self, arrays: dict[str, np.ndarray]) -> None:
        """The lexical and nearest-example state; absent parts are not blended in."""
        self.components_ = dict(arrays)
        self._lexical_train: sparse.csr_matrix | None = None
        if "lexical_coef" in arrays:
            self._lexical_train = sparse.csr_matrix(
                (arrays["lexical_data"], arrays["lexical_indices"], arrays["lexical_indptr"]),
                shape=(len(arrays["lexical_indptr"]) - 1, _NGRAMS.n_features),
            )

    @classmethod
    def from_parameters(
        cls,
        encoder: Encoder,
        classes: Sequence[str],
        coef: np.ndarray,
        intercept: np.ndarray,
        temperature: float = 1.0,
        components: dict[str, np.ndarray] | None = None,
        **params: Any,
    ) -> IntentClassifier:
        """Rebuild a fitted classifier from saved parameters (see :mod:`intent.registry`)."""
        clf = cls(encoder, **params)
        clf._set_head(np.asarray(list(classes), dtype=object), coef, intercept, temperature)
        clf._set_components(components or {})
        return clf

    def decision_function_embeddings(
        self, X: np.ndarray, texts: Sequence[str] | None = None
    ) -> np.ndarray:
        """Log of the blended probabilities of encoded rows (``texts`` for the lexical head)."""
        check_is_fitted(self, ["classes_", "coef_"])
        proba = softmax(X @ self.coef_.T + self.intercept_)
        parts = self.components_
        if self._lexical_train is not None and texts is not None and self.lexical_weight > 0:
            lexical = _tfidf(_NGRAMS.transform(list(texts)), parts["lexical_idf"])
            lexical_proba = softmax(
                np.asarray(lexical @ parts["lexical_coef"].T) + parts["lexical_intercept"]
            )
            familiar = np.asarray((lexical @ self._lexical_train.T).max(axis=1).todense())
            weight = self.lexical_weight * np.clip((familiar - 0.2) / 0.4, 0.0, 1.0)
            proba = (1.0 - weight) * proba + weight * lexical_proba
        if "knn_vectors" in parts and self.knn_weight > 0:
            similarity = np.asarray(X, dtype=np.float32) @ parts["knn_vectors"].T
            nearest = np.maximum.reduceat(similarity, parts["knn_starts"], axis=1)
            proba = (1.0 - self.knn_weight) * proba + self.knn_weight * softmax(
                nearest / self.knn_temperature
            )
        scores: np.ndarray = np.log(np.clip(proba, 1e-12, None))
        return scores

    def predict_proba_embeddings(
        self, X: np.ndarray, texts: Sequence[str] | None = None
    ) -> np.ndarray:
        """Softmax of the scores divided by ``temperature_`` (1.0 until calibrated)."""
        return softmax(self.decision_function_embeddings(X, texts) / self.temperature_)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, len(classes_))`` probabilities; rows sum to 1."""
        check_is_fitted(self, ["classes_", "coef_"])
        return self.predict_proba_embeddings(self.encoder.encode(texts), texts)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable class per text (thresholds are applied by :func:`decide`)."""
        proba = self.predict_proba(texts)
        labels: np.ndarray = self.classes_[proba.argmax(axis=1)]
        return labels


#: Character 2-5-grams within word boundaries, hashed: stateless, so only the IDF weights and
#: the head are learned and saved.
_NGRAMS = HashingVectorizer(
    analyzer="char_wb",
    ngram_range=(2, 5),
    n_features=2**14,
    alternate_sign=False,
    norm=None,
    lowercase=True,
)


def _tfidf(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Sublinear term frequency times IDF, rows L2-normalised."""
    weighted = sparse.csr_matrix(counts, dtype=np.float32, copy=True)
    weighted.data = (1.0 + np.log(weighted.data)) * idf[weighted.indices]
    normalised: sparse.csr_matrix = normalize(weighted)
    return normalised


def _square(
    classes: Sequence[str], coef: np.ndarray, intercept: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One weight row per class: binary heads hold one vector, and softmax over (-z/2, z/2)
    equals sigmoid(z)."""
    coef = np.asarray(coef, dtype=np.float32)
    intercept = np.asarray(intercept, dtype=np.float32)
    if coef.shape[0] == 1 and len(classes) == 2:
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
    return coef, intercept


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
    max_cost: float = 0.02,
) -> Thresholds:
    """Pick the OOS and margin thresholds on held-out probabilities.

    Abstaining (out of scope or ``unknown``) may cost at most ``max_cost`` of in-scope
    accuracy, measured against answering every in-scope text with its best intent (a rejected
    in-scope text counts as wrong). Within that budget ``oos`` maximises
    ``(1 - oos_weight) · in-scope accuracy + oos_weight · OOS recall`` (``oos_weight`` is the
    share of out-of-scope traffic the model is tuned for); without out-of-scope examples it is
    the highest threshold that stays in the budget, at most 0.3. ``margin`` then maximises the
    selective utility of the accepted answers (+1 correct, -1 wrong, 0 for ``unknown``) with
    what is left of the budget.
    """
    y = np.asarray(list(y_true), dtype=object)
    is_oos = y == OUT_OF_SCOPE
    in_scope = ~is_oos

    def in_scope_accuracy(predicted: np.ndarray) -> float:
        return float(np.mean(predicted[in_scope] == y[in_scope])) if in_scope.any() else 0.0

    floor = in_scope_accuracy(_labels(decide(proba, classes, Thresholds(oos=0.0, margin=0.0))))
    floor -= max_cost + 1e-9
    best_oos, best_score = 0.0, -1.0
    top = 0.91 if is_oos.any() else 0.31
    for t in np.round(np.arange(0.0, top, 0.01), 2):
        predicted = _labels(decide(proba, classes, Thresholds(oos=float(t), margin=0.0)))
        in_acc = in_scope_accuracy(predicted)
        if in_acc < floor:
            break
        if is_oos.any():
            oos_recall = float(np.mean(predicted[is_oos] == OUT_OF_SCOPE))
            score = (1.0 - oos_weight) * in_acc + oos_weight * oos_recall
        else:
            score = float(t)
        if score > best_score + 1e-9:
            best_oos, best_score = float(t), score
    decisions = decide(proba, classes, Thresholds(oos=best_oos, margin=0.0))
    _, gap = _in_scope_top2(proba, classes)
    accepted = np.asarray([d.status == "intent" for d in decisions])
    right = np.asarray([d.label == t for d, t in zip(decisions, y, strict=True)])
    best_margin, best_utility = 0.0, -np.inf
    for m in np.round(np.arange(0.0, 0.31, 0.01), 2):
        kept = accepted & (gap >= m)
        if in_scope.any() and float(np.mean((kept & right)[in_scope])) < floor:
            break
        utility = float(np.sum(np.where(right[kept], 1.0, -1.0)))
        if utility > best_utility + 1e-9:
            best_margin, best_utility = float(m), utility
    return Thresholds(oos=best_oos, margin=best_margin, axis=axis)


def _labels(decisions: Sequence[Decision]) -> np.ndarray:
    return np.asarray([d.label for d in decisions], dtype=object)
