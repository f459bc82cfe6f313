"""Evaluation figures of an intent model: accuracy, macro-F1, out-of-scope recall and precision,
calibration, and phase and moment accuracy, overall and per language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from intent.catalog import AXES, OUT_OF_SCOPE, UNKNOWN, Catalog
from intent.classifier import Thresholds, decide


def macro_f1(truth: Sequence[str] | np.ndarray, predicted: Sequence[str] | np.ndarray) -> float:
    """Macro-F1 over the gold labels: ``unknown`` (an abstention, never a gold label) costs the
    recall of the intents it was given for, and is not a class of its own averaged in."""
    labels = sorted({str(label) for label in truth})
    return float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0))


def evaluate(
    proba: np.ndarray,
    labels: Sequence[str] | np.ndarray,
    langs: Sequence[str | None],
    classes: Sequence[str],
    catalog: Catalog,
    thresholds: Thresholds,
) -> dict[str, Any]:
    """Evaluation figures of probability rows against true labels.

    Intent accuracy and macro-F1 (over the gold labels, see :func:`macro_f1`) count ``unknown``
    as wrong; phase and moment accuracy are
    computed on in-scope examples from the summed distribution (no situation); ``ece`` is the
    expected calibration error of the top in-scope probability (10 bins).
    """
    y = np.asarray(list(labels), dtype=object)
    decisions = decide(proba, classes, thresholds)
    predicted = np.asarray([d.label for d in decisions], dtype=object)
    confidence = np.asarray([d.confidence for d in decisions])
    is_oos = y == OUT_OF_SCOPE
    pred_oos = predicted == OUT_OF_SCOPE
    metrics: dict[str, Any] = {
        "accuracy": float(np.mean(predicted == y)),
        "macro_f1": macro_f1(y, predicted),
        "in_scope_accuracy": float(np.mean(predicted[~is_oos] == y[~is_oos])),
        "unknown_rate": float(np.mean(predicted == UNKNOWN)),
    }
    if is_oos.any():
        tp = float(np.sum(pred_oos & is_oos))
        metrics["oos_recall"] = tp / float(is_oos.sum())
        metrics["oos_precision"] = tp / float(pred_oos.sum()) if pred_oos.any() else 0.0
    in_scope_classes = [i for i, c in enumerate(classes) if c != OUT_OF_SCOPE]
    top_in_scope = np.asarray(classes, dtype=object)[in_scope_classes][
        proba[:, in_scope_classes].argmax(axis=1)
    ]
    metrics["ece"] = expected_calibration_error(
        confidence[~is_oos], top_in_scope[~is_oos] == y[~is_oos]
    )
    lang_array = np.asarray([lang or "?" for lang in langs], dtype=object)
    for axis in ("phase", "moment"):
        projection = catalog.projection(list(classes), axis)
        names = np.asarray(AXES[axis], dtype=object)
        axis_pred = names[(proba @ projection).argmax(axis=1)]
        truth = np.asarray(
            [catalog.label_of(label, axis) if label != OUT_OF_SCOPE else "" for label in y],
            dtype=object,
        )
        per_lang: dict[str, float] = {}
        for lang in sorted(set(lang_array[~is_oos].tolist())):
            mask = (~is_oos) & (lang_array == lang)
            per_lang[lang] = float(np.mean(axis_pred[mask] == truth[mask]))
        metrics[f"{axis}_accuracy"] = float(np.mean(axis_pred[~is_oos] == truth[~is_oos]))
        metrics[f"{axis}_accuracy_by_language"] = per_lang
    by_lang: dict[str, float] = {}
    for lang in sorted(set(lang_array.tolist())):
        mask = lang_array == lang
        by_lang[lang] = float(np.mean(predicted[mask] == y[mask]))
    metrics["accuracy_by_language"] = by_lang
    return metrics


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    """Mean |accuracy − confidence| over equal-width confidence bins, weighted by bin size."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(float(correct[mask].mean()) - float(confidence[mask].mean()))
    return float(total)
