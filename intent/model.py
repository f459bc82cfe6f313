"""The facade the service calls: text (+ language, + situation) in, intent, phase, moment out.

:class:`IntentModel` bundles the catalogue, the fitted :class:`~intent.classifier.IntentClassifier`
and the thresholds chosen on validation data. :meth:`IntentModel.load_or_train` reuses the
saved model whose training-data hash matches, else trains (cross-validating for thresholds
and evaluation figures) and saves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from sklearn.model_selection import StratifiedKFold

from intent.catalog import AXES, OUT_OF_SCOPE, UNKNOWN, Axis, Catalog, IntentSpec
from intent.classifier import (
    Decision,
    IntentClassifier,
    Thresholds,
    choose_thresholds,
    decide,
    fit_temperature,
    softmax,
)
from intent.encoder import Encoder
from intent.errors import TrainingDataError
from intent.evaluation import evaluate
from intent.fusion import EvidenceLike, fuse
from intent.registry import ModelRegistry, SavedModel
from intent.training import DEFAULT_DATA_PATH, TrainingData, load_training_data

logger = logging.getLogger("kairos.intent")

#: ``progress(step, fraction_done)``; the CLI draws it as a progress bar.
Progress = Callable[[str, float], None]

USER_EXAMPLES_FILE = "user_examples.yml"
MODELS_SUBDIR = "models"
HEAD_PARAMS: dict[str, Any] = {
    "C": 30.0,
    "class_weight": "balanced",
    "max_iter": 2000,
    "lexical_weight": 0.5,
    "lexical_C": 5.0,
    "knn_weight": 0.2,
    "knn_temperature": 0.05,
}


class Scored(BaseModel):
    """A name with a confidence in [0, 1]."""

    name: str
    confidence: float = Field(ge=0.0, le=1.0)


class IntentPrediction(BaseModel):
    """The understanding of one utterance.

    ``intent.name`` is ``unknown`` when the best two intents are too close, ``out_of_scope``
    when the text is outside the domain; ``ranking`` always holds the five best intents.
    """

    intent: Scored
    ranking: list[Scored]
    phase: Scored
    moment: Scored
    out_of_scope: bool
    language: str | None
    reasons: list[str]
    model_version: str


def _noop(step: str, fraction: float) -> None:
    logger.info("intent model: %s (%.0f%%)", step, fraction * 100)


class _LanguageGuesser:
    """German/English detection with lingua. :meth:`warm_up` builds it and loads its models
    (~0.5-1 s), so that the first prediction without a language does not pay for it."""

    def __init__(self) -> None:
        self._detector: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self("warm up: ein kurzer Satz")

    def __call__(self, text: str) -> str | None:
        with self._lock:
            if self._detector is None:
                from lingua import Language, LanguageDetectorBuilder

                self._detector = LanguageDetectorBuilder.from_languages(
                    Language.GERMAN, Language.ENGLISH
                ).with_preloaded_language_models().build()
        language = self._detector.detect_language_of(text)
        return None if language is None else str(language.iso_code_639_1.name).lower()


def _situation_language(situation: object | None) -> str | None:
    language = getattr(situation, "language", None)
    code = getattr(language, "code", None)
    return code if isinstance(code, str) else None


def _situation_evidence(situation: object | None) -> list[EvidenceLike]:
    evidence = getattr(situation, "evidence", None)
    return list(evidence) if evidence is not None else []


class IntentModel:
    """A trained intent model; immutable once built, safe to share between threads."""

    def __init__(
        self,
        catalog: Catalog,
        classifier: IntentClassifier,
        thresholds: Thresholds,
        *,
        version: str,
        data_hash: str,
        metrics: dict[str, Any] | None = None,
        created_at: str = "",
    ) -> None:
        self.catalog = catalog
        self.classifier = classifier
        self.thresholds = thresholds
        self.version = version
        self.data_hash = data_hash
        self.metrics = metrics or {}
        self.created_at = created_at
        self._classes = [str(c) for c in classifier.classes_]
        self._projections = {
            axis: catalog.projection(self._classes, axis) for axis in ("phase", "moment")
        }
        self._in_scope = np.asarray([c != OUT_OF_SCOPE for c in self._classes])
        self._guess_language = _LanguageGuesser()
        self._guess_language.warm_up()

    # -- training and persistence -------------------------------------------------------

    @classmethod
    def train(
        cls,
        data: TrainingData,
        *,
        encoder: Encoder,
        random_state: int = 0,
        folds: int = 5,
        progress: Progress | None = None,
        head_params: dict[str, Any] | None = None,
    ) -> IntentModel:
        """Cross-validate (thresholds, evaluation figures), then fit on all of ``data``.

        ``head_params`` replace :data:`HEAD_PARAMS` (the benchmark compares heads with it).
        Raises :class:`TrainingDataError` when there are fewer than two intents.
        """
        report = progress or _noop
        params = {**HEAD_PARAMS, **(head_params or {})}
        if len(data.catalog) < 2:
            raise TrainingDataError("training needs at least two intents")
        texts, labels, langs = data.texts, np.asarray(data.labels, dtype=object), data.langs
        text_array = np.asarray(texts, dtype=object)
        report("encoding examples", 0.0)
        X = encoder.encode(texts)
        n_folds = max(2, min(folds, min(data.counts().values())))
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
        oof: np.ndarray | None = None
        classes: list[str] = []
        for fold, (train_idx, test_idx) in enumerate(splitter.split(X, labels)):
            report(f"cross-validation fold {fold + 1}/{n_folds}", (fold + 1) / (n_folds + 2))
            head = IntentClassifier(encoder, random_state=random_state, **params)
            head.fit_embeddings(X[train_idx], labels[train_idx], texts=text_array[train_idx])
            fold_classes = [str(c) for c in head.classes_]
            if oof is None:
                classes = sorted(set(labels.tolist()))
                oof = np.full((len(texts), len(classes)), -1e9)  # unseen class: never chosen
            cols = [classes.index(c) for c in fold_classes]
            oof[np.ix_(test_idx, cols)] = head.decision_function_embeddings(
                X[test_idx], list(text_array[test_idx])
            )
        assert oof is not None
        y_index = np.asarray([classes.index(c) for c in labels])
        temperature = fit_temperature(oof, y_index)
        proba = softmax(oof / temperature)
        thresholds = choose_thresholds(proba, labels, classes)
        metrics = evaluate(proba, labels, langs, classes, data.catalog, thresholds)
        metrics["temperature"] = temperature
        metrics["ece_before_temperature"] = evaluate(
            softmax(oof), labels, langs, classes, data.catalog, thresholds
        )["ece"]
        metrics["folds"] = n_folds
        metrics["examples"] = len(texts)
        report("fitting the final model", (n_folds + 1) / (n_folds + 2))
        classifier = IntentClassifier(encoder, random_state=random_state, **params)
        classifier.fit_embeddings(X, labels, texts=texts)
        classifier.temperature_ = temperature
        report("done", 1.0)
        return cls(
            data.catalog,
            classifier,
            thresholds,
            version=model_version(encoder.name, data.hash, random_state),
            data_hash=data.hash,
            metrics=metrics,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def to_saved(self) -> SavedModel:
        return SavedModel(
            version=self.version,
            data_hash=self.data_hash,
            encoder=self.classifier.encoder.name,
            classes=self._classes,
            coef=self.classifier.coef_,
            intercept=self.classifier.intercept_,
            components=self.classifier.components_,
            temperature=self.classifier.temperature_,
            thresholds=self.thresholds.to_dict(),
            catalog=self.catalog.to_list(),
            params={k: v for k, v in self.classifier.get_params().items() if k != "encoder"},
            metrics=self.metrics,
            created_at=self.created_at,
        )

    @classmethod
    def from_saved(cls, saved: SavedModel, encoder: Encoder) -> IntentModel:
        assert saved.encoder == encoder.name, "a saved model must be used with its own encoder"
        params = {k: v for k, v in saved.params.items() if k in {*HEAD_PARAMS, "random_state"}}
        classifier = IntentClassifier.from_parameters(
            encoder,
            saved.classes,
            saved.coef,
            saved.intercept,
            saved.temperature,
            components=saved.components,
            **params,
        )
        catalog = Catalog(IntentSpec(**spec) for spec in saved.catalog)
        return cls(
            catalog,
            classifier,
            Thresholds(**saved.thresholds),
            version=saved.version,
            data_hash=saved.data_hash,
            metrics=saved.metrics,
            created_at=saved.created_at,
        )

    @classmethod
    def load_or_train(
        cls,
        *,
        encoder: Encoder,
        model_dir: Path,
        data_path: Path | None = None,
        random_state: int = 0,
        progress: Progress | None = None,
    ) -> IntentModel:
        """Load the saved model trained on the current data, else train and save one.

        The data is ``data_path`` (default: the shipped retail set) merged with the marketers'
        examples in ``model_dir/user_examples.yml``.
        """
        data = load_training_data(
            [data_path or DEFAULT_DATA_PATH, Path(model_dir) / USER_EXAMPLES_FILE]
        )
        registry = ModelRegistry(Path(model_dir) / MODELS_SUBDIR)
        params = {**HEAD_PARAMS, "random_state": random_state}
        saved = registry.find(data.hash, encoder.name, params)
        if saved is not None:
            logger.info("intent model %s loaded from %s", saved.version, registry.root)
            return cls.from_saved(saved, encoder)
        model = cls.train(data, encoder=encoder, random_state=random_state, progress=progress)
        registry.save(model.to_saved())
        logger.info("intent model %s trained and saved", model.version)
        return model

    # -- prediction ---------------------------------------------------------------------

    def predict(
        self,
        texts: Sequence[str],
        *,
        langs: Sequence[str | None] | None = None,
        situations: Sequence[object | None] | None = None,
    ) -> list[IntentPrediction]:
        """Understand a batch of texts; ``langs`` and ``situations`` align with ``texts``.

        The language is the given one, else the situation's, else detected from the text.
        The situation's ``evidence`` is fused into phase and moment (see :mod:`intent.fusion`).
        """
        n = len(texts)
        assert langs is None or len(langs) == n, "langs must align with texts"
        assert situations is None or len(situations) == n, "situations must align with texts"
        if n == 0:
            return []
        proba = self.classifier.predict_proba(texts)
        decisions = decide(proba, self._classes, self.thresholds)
        out: list[IntentPrediction] = []
        for i, text in enumerate(texts):
            situation = situations[i] if situations is not None else None
            language = (langs[i] if langs is not None else None) or _situation_language(situation)
            if not has_words(text):  # "", "   ", "👍", "?!": nothing to understand
                decisions[i] = Decision(UNKNOWN, 0.0, "no_words")
            elif language is None:
                language = self._guess_language(text)
            out.append(self._explain(proba[i], decisions[i], situation, language))
        return out

    def _explain(
        self, row: np.ndarray, decision: Decision, situation: object | None, language: str | None
    ) -> IntentPrediction:
        in_scope_idx = np.flatnonzero(self._in_scope)
        top = in_scope_idx[np.argsort(-row[in_scope_idx])[:5]]
        ranking = [Scored(name=self._classes[j], confidence=float(row[j])) for j in top]
        if decision.status == "no_words":
            ranking = []
        reasons = [self._intent_reason(row, decision, ranking)]
        evidence = _situation_evidence(situation)
        axes: dict[Axis, Scored] = {}
        for axis in ("phase", "moment"):
            if decision.status in ("out_of_scope", "no_words"):
                text_dist: dict[str, float] = {}
            else:
                mass = row @ self._projections[axis]
                text_dist = dict(zip(AXES[axis], (float(m) for m in mass), strict=True))
            fused = fuse(text_dist, evidence, axis, min_confidence=self.thresholds.axis)
            axes[axis] = Scored(name=fused.name, confidence=min(1.0, fused.confidence))
            reasons.extend(fused.reasons)
        return IntentPrediction(
            intent=Scored(name=decision.label, confidence=min(1.0, decision.confidence)),
            ranking=ranking,
            phase=axes["phase"],
            moment=axes["moment"],
            out_of_scope=decision.status == "out_of_scope",
            language=language,
            reasons=reasons,
            model_version=self.version,
        )

    def _intent_reason(self, row: np.ndarray, decision: Decision, ranking: list[Scored]) -> str:
        if decision.status == "no_words":
            return f"intent: {UNKNOWN}, the text has no words (only spaces, signs or emoji)"
        t = self.thresholds
        best = ranking[0]
        if decision.status == "out_of_scope":
            if OUT_OF_SCOPE in self._classes:
                p_oos = float(row[self._classes.index(OUT_OF_SCOPE)])
                if p_oos > best.confidence:
                    return (
                        f"intent: out of scope, it resembles the out-of-scope examples "
                        f"({p_oos:.2f} > {best.name} {best.confidence:.2f})"
                    )
            return (
                f"intent: out of scope, best intent {best.name} at {best.confidence:.2f} "
                f"is below the threshold {t.oos:.2f}"
            )
        second = ranking[1] if len(ranking) > 1 else Scored(name="-", confidence=0.0)
        gap = best.confidence - second.confidence
        if decision.status == "unknown":
            return (
                f"intent: {UNKNOWN}, {best.name} ({best.confidence:.2f}) and {second.name} "
                f"({second.confidence:.2f}) are closer than the margin {t.margin:.2f}"
            )
        return f"intent: {best.name} ({best.confidence:.2f}), ahead of {second.name} by {gap:.2f}"


MAX_TEXT_CHARS = 2000
"""The longest text read: the API refuses longer ones, the CLI reads their beginning."""


def has_words(text: str) -> bool:
    """Whether ``text`` has a letter or a digit: empty, blank, emoji- or punctuation-only text
    has nothing a model can understand, and is ``unknown`` without asking it."""
    return any(c.isalnum() for c in text)


def model_version(encoder_name: str, data_hash: str, random_state: int) -> str:
    """Deterministic: the same encoder, data and seed give the same version."""
    return f"{encoder_name.replace('+', '-')}-{data_hash[:12]}-s{random_state}"
