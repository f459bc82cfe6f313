from __future__ import annotations

from pathlib import Path

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
        HashingEncoder(),
        list(clf.classes_),
        clf.coef_,
        clf.intercept_,
        components=clf.components_,
        random_state=0,
    )
    texts = TEXTS + ["parcel where", "a retrun label", "tell me a joke about parcels"]
    assert np.allclose(clf.predict_proba(texts), copy.predict_proba(texts))


def test_binary_head_probabilities_match_sklearn() -> None:
    texts, labels = TEXTS[:8], LABELS[:8]
    clf = IntentClassifier(
        HashingEncoder(), lexical_weight=0.0, knn_weight=0.0, random_state=0
    ).fit(texts, labels)
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
    # Close calls (gap 0.02) are right only a third of the time: abstaining pays, when the
    # budget allows losing the 3 right answers among them (3 of 19 in-scope texts).
    close = [[0.49, 0.47, 0.04]] * 9
    truth_close = ["a"] * 3 + ["b"] * 6
    clear = [[0.9, 0.05, 0.05]] * 10
    t = choose_thresholds(
        np.array(close + clear), truth_close + ["a"] * 10, CLASSES, max_cost=0.2
    )
    assert t.margin > 0.02
    assert [d.label for d in decide(np.array(close), CLASSES, t)] == [UNKNOWN] * 9


def in_scope_accuracy(proba: np.ndarray, truth: list[str], t: Thresholds) -> float:
    labels = [d.label for d in decide(proba, CLASSES, t)]
    pairs = [(p, y) for p, y in zip(labels, truth, strict=True) if y != OUT_OF_SCOPE]
    return sum(p == y for p, y in pairs) / len(pairs)


@pytest.mark.parametrize("with_oos", [True, False])
def test_abstention_costs_at_most_two_points_of_in_scope_accuracy(with_oos: bool) -> None:
    # 200 in-scope texts, right 80 % of the time, with confidences that overlap those of the
    # wrong answers and of out-of-scope text: every threshold throws away right answers.
    rng = np.random.default_rng(1)
    rows, truth = [], []
    for i in range(200):
        right = i % 5 != 0
        top = rng.uniform(0.35, 0.95) if right else rng.uniform(0.3, 0.6)
        second = rng.uniform(0.0, 1.0 - top)
        row = [top, second, 1.0 - top - second] if right else [second, top, 1.0 - top - second]
        rows.append(row)
        truth.append("a")
    if with_oos:
        for _ in range(60):
            top = rng.uniform(0.3, 0.6)
            rows.append([top, (1 - top) / 2, (1 - top) / 2])
            truth.append(OUT_OF_SCOPE)
    proba = np.array(rows)
    answer_all = in_scope_accuracy(proba, truth, Thresholds(oos=0.0, margin=0.0))
    t = choose_thresholds(proba, truth, CLASSES)
    assert t.oos > 0.0  # it does abstain...
    assert in_scope_accuracy(proba, truth, t) >= answer_all - 0.02  # ...within 2 points
    if with_oos:  # the budget is what holds it back: a looser one throws away more
        loose = choose_thresholds(proba, truth, CLASSES, max_cost=0.2)
        assert in_scope_accuracy(proba, truth, loose) < answer_all - 0.02


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


# -- the blended head: lexical n-grams and nearest examples beside the embedding ---------------

SHOP = {
    "track_order": ["where is my parcel", "track my parcel", "parcel status", "my parcel is late"],
    "return_item": ["start a return", "return label", "print a return label", "return this"],
    "invoice": ["send me the invoice", "invoice copy", "download my invoice", "invoice please"],
    "vouchers": ["redeem my voucher", "voucher code", "voucher not working", "enter voucher"],
}
SHOP_TEXTS = [t for texts in SHOP.values() for t in texts]
SHOP_LABELS = [label for label, texts in SHOP.items() for _ in texts]
UNSEEN = [
    ("parcel hasn't arrived", "track_order"),
    ("status of the parcel", "track_order"),
    ("need a return label", "return_item"),
    ("how do i return this", "return_item"),
    ("an invoice for my order", "invoice"),
    ("copy of the invoice", "invoice"),
    ("this voucher code fails", "vouchers"),
    ("use a voucher", "vouchers"),
]


def test_lexical_head_rescues_a_weak_encoder() -> None:
    # A 2-bucket encoder blurs every text into nearly the same vector; the character n-grams
    # of the lexical head still tell "voucher" from "invoice" and "return" from "parcel".
    weak = HashingEncoder(dim=2)
    plain = IntentClassifier(weak, lexical_weight=0.0, knn_weight=0.0, random_state=0)
    blended = IntentClassifier(weak, random_state=0)
    texts, truth = [t for t, _ in UNSEEN], [label for _, label in UNSEEN]

    def accuracy(clf: IntentClassifier) -> float:
        predicted = clf.fit(SHOP_TEXTS, SHOP_LABELS).predict(texts)
        return float(np.mean(predicted == np.asarray(truth, dtype=object)))

    assert accuracy(blended) >= 7 / 8
    assert accuracy(plain) <= 4 / 8


def test_text_with_unfamiliar_ngrams_leans_on_the_encoder_alone() -> None:
    # Nothing of "Где моя посылка" is in the (English) training n-grams: the lexical head,
    # which would only guess, gets no say, exactly as if it were switched off.
    blended = IntentClassifier(HashingEncoder(), random_state=0).fit(SHOP_TEXTS, SHOP_LABELS)
    no_lexical = IntentClassifier(HashingEncoder(), lexical_weight=0.0, random_state=0)
    no_lexical.fit(SHOP_TEXTS, SHOP_LABELS)
    foreign = ["Где моя посылка"]
    assert np.allclose(blended.predict_proba(foreign), no_lexical.predict_proba(foreign))
    familiar = ["parcel voucher"]
    assert not np.allclose(blended.predict_proba(familiar), no_lexical.predict_proba(familiar))


def test_nearest_examples_pull_towards_the_closest_training_text() -> None:
    # The nearest-example component gives an exact training sentence most of its weight.
    plain = IntentClassifier(HashingEncoder(), lexical_weight=0.0, knn_weight=0.0, random_state=0)
    knn = IntentClassifier(HashingEncoder(), lexical_weight=0.0, knn_weight=0.5, random_state=0)
    plain.fit(SHOP_TEXTS, SHOP_LABELS)
    knn.fit(SHOP_TEXTS, SHOP_LABELS)
    column = list(knn.classes_).index("vouchers")
    p_plain = plain.predict_proba(["voucher not working"])[0, column]
    p_knn = knn.predict_proba(["voucher not working"])[0, column]
    assert p_knn > p_plain and p_knn > 0.5


def test_blended_head_is_deterministic_and_survives_the_registry(tmp_path: Path) -> None:
    from intent.registry import ModelRegistry, SavedModel

    a = IntentClassifier(HashingEncoder(), random_state=0).fit(SHOP_TEXTS, SHOP_LABELS)
    b = IntentClassifier(HashingEncoder(), random_state=0).fit(SHOP_TEXTS, SHOP_LABELS)
    assert sorted(a.components_) == sorted(b.components_)
    for key, value in a.components_.items():
        assert np.array_equal(value, b.components_[key]), key
    registry = ModelRegistry(tmp_path)
    registry.save(
        SavedModel(
            version="v1",
            data_hash="h",
            encoder="hashing-1024",
            classes=list(a.classes_),
            coef=a.coef_,
            intercept=a.intercept_,
            components=a.components_,
            thresholds={},
            catalog=[],
        )
    )
    saved = registry.load("v1")
    copy = IntentClassifier.from_parameters(
        HashingEncoder(),
        saved.classes,
        saved.coef,
        saved.intercept,
        components=saved.components,
        random_state=0,
    )
    texts = [t for t, _ in UNSEEN]
    assert np.allclose(a.predict_proba(texts), copy.predict_proba(texts))
