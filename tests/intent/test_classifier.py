from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from intent.catalog import OUT_OF_SCOPE, UNKNOWN
from intent.classifier import (
    IntentClassifier,
    Thresholds,
    choose_thresholds,
    decide,
    fit_temperature,
    softmax,
)
from intent.encoder import HashingEncoder

TEXTS = [
    "where is my parcel",
    "track my parcel",
    "parcel status",
    "parcel tracking",
    "start a return",
    "return label",
    "returns label print",
    "return this item",
    "weather tomorrow",
    "tell a joke",
    "football score",
    "lasagna recipe",
]
LABELS = ["track_order"] * 4 + ["return_item"] * 4 + [OUT_OF_SCOPE] * 4


def test_fit_predict_contract() -> None:
    clf = IntentClassifier(HashingEncoder(), random_state=0)
    assert clf.fit(TEXTS, LABELS) is clf
    assert sorted(clf.classes_) == sorted({*LABELS})
    proba = clf.predict_proba(["my parcel status", "return label please"])
    assert proba.shape == (2, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert clf.predict(["my parcel status", "return label please"]).tolist() == [
        "track_order",
        "return_item",
    ]


def test_unfitted_classifier_raises_not_fitted() -> None:
    clf = IntentClassifier(HashingEncoder())
    with pytest.raises(NotFittedError):
        clf.predict_proba(["x"])
    with pytest.raises(NotFittedError):
        clf.predict(["x"])


def test_same_random_state_same_model() -> None:
    a = IntentClassifier(HashingEncoder(), random_state=3).fit(TEXTS, LABELS)
    b = IntentClassifier(HashingEncoder(), random_state=3).fit(TEXTS, LABELS)
    assert np.allclose(a.coef_, b.coef_)


def test_rebuilt_from_parameters_predicts_the_same() -> None:
    clf = IntentClassifier(HashingEncoder(), random_state=0).fit(TEXTS, LABELS)
    copy = IntentClassifier.from_parameters(
        HashingEncoder(), list(clf.classes_), clf.coef_, clf.intercept_
    )
    assert np.allclose(clf.predict_proba(TEXTS), copy.predict_proba(TEXTS))


def test_binary_head_probabilities_match_sklearn() -> None:
    texts, labels = TEXTS[:8], LABELS[:8]
    clf = IntentClassifier(HashingEncoder(), random_state=0).fit(texts, labels)
    from sklearn.linear_model import LogisticRegression

    reference = LogisticRegression(C=clf.C, class_weight="balanced", max_iter=2000).fit(
        HashingEncoder().encode(texts), labels
    )
    assert np.allclose(
        clf.predict_proba(texts),
        reference.predict_proba(HashingEncoder().encode(texts)),
        atol=1e-4,
    )


CLASSES = ["a", "b", OUT_OF_SCOPE]


def test_decide_out_of_scope_by_class_and_by_threshold() -> None:
    t = Thresholds(oos=0.5, margin=0.1)
    proba = np.array([[0.2, 0.1, 0.7], [0.45, 0.3, 0.25], [0.8, 0.1, 0.1]])
    decisions = decide(proba, CLASSES, t)
    assert [d.label for d in decisions] == [OUT_OF_SCOPE, OUT_OF_SCOPE, "a"]
    assert decisions[1].status == "out_of_scope" and decisions[1].confidence == 0.45


def test_decide_unknown_when_top_two_are_close() -> None:
    proba = np.array([[0.46, 0.44, 0.10]])
    assert decide(proba, CLASSES, Thresholds(oos=0.3, margin=0.05))[0].label == UNKNOWN
    assert decide(proba, CLASSES, Thresholds(oos=0.3, margin=0.01))[0].label == "a"


def test_choose_thresholds_separates_confident_from_oos() -> None:
    proba = np.array(
        [[0.9, 0.05, 0.05]] * 10
        + [[0.05, 0.9, 0.05]] * 10
        + [[0.35, 0.3, 0.35]] * 10
        + [[0.4, 0.35, 0.25]] * 5
    )
    truth = ["a"] * 10 + ["b"] * 10 + [OUT_OF_SCOPE] * 10 + [OUT_OF_SCOPE] * 5
    t = choose_thresholds(proba, truth, CLASSES)
    labels = [d.label for d in decide(proba, CLASSES, t)]
    assert labels[:20] == truth[:20]
    assert all(label in (OUT_OF_SCOPE, UNKNOWN) for label in labels[20:])


def test_choose_margin_abstains_where_answers_are_mostly_wrong() -> None:
    # Close calls (gap 0.02) are right only a third of the time: abstaining pays.
    close = [[0.49, 0.47, 0.04]] * 9
    truth_close = ["a"] * 3 + ["b"] * 6
    clear = [[0.9, 0.05, 0.05]] * 10
    t = choose_thresholds(np.array(close + clear), truth_close + ["a"] * 10, CLASSES)
    assert t.margin > 0.02
    assert [d.label for d in decide(np.array(close), CLASSES, t)] == [UNKNOWN] * 9


def test_temperature_softens_overconfident_scores() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, size=300)
    scores = rng.normal(size=(300, 3))
    scores[np.arange(300), truth] += 1.0  # right more often than not...
    scores *= 10.0  # ...but with near-certain probabilities
    t = fit_temperature(scores, truth)
    assert t > 3.0
    from intent.evaluation import expected_calibration_error

    def ece(temperature: float) -> float:
        proba = softmax(scores / temperature)
        return expected_calibration_error(proba.max(axis=1), proba.argmax(axis=1) == truth)

    assert ece(t) < ece(1.0) / 2
