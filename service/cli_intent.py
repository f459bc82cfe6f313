"""``kairos intent``: train, predict and evaluate the intent model from the command line."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from intent.catalog import OUT_OF_SCOPE, UNKNOWN
from intent.encoder import DEFAULT_ENCODER, build_encoder
from intent.errors import IntentError
from intent.evaluation import macro_f1
from intent.model import MAX_TEXT_CHARS, IntentModel, IntentPrediction

intent_app = typer.Typer(help="Train, try and evaluate the intent model.", no_args_is_help=True)
console = Console(stderr=True)  # progress and messages
results = Console()  # the tables a command answers with

EncoderOpt = Annotated[
    str,
    typer.Option(
        "--encoder",
        envvar="KAIROS_INTENT_ENCODER",
        help="Encoder: use, minilm, use+minilm, hashing.",
    ),
]
ModelDirOpt = Annotated[
    Path,
    typer.Option(
        "--model-dir",
        envvar="KAIROS_INTENT_MODEL_DIR",
        help="Where models and user examples are kept.",
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", exists=True, dir_okay=False, help="Training YAML (default: shipped)."),
]
DEFAULT_MODEL_DIR = Path("var/models")


@contextmanager
def _progress() -> Iterator[Progress]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield progress


def _load(encoder: str, model_dir: Path, data: Path | None) -> IntentModel:
    with _progress() as progress:
        task = progress.add_task("loading encoder", total=1.0)
        enc = build_encoder(encoder)

        def report(step: str, fraction: float) -> None:
            progress.update(task, description=step, completed=fraction)

        model = IntentModel.load_or_train(
            encoder=enc, model_dir=model_dir, data_path=data, progress=report
        )
        progress.update(task, description=f"model {model.version}", completed=1.0)
    return model


def _fail(exc: IntentError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=2)


@intent_app.command()
def train(
    data: DataOpt = None,
    encoder: EncoderOpt = DEFAULT_ENCODER,
    model_dir: ModelDirOpt = DEFAULT_MODEL_DIR,
) -> None:
    """Train (or reuse the model matching the data) and print its cross-validated figures."""
    try:
        model = _load(encoder, model_dir, data)
    except IntentError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"intent model {model.version}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in model.metrics.items():
        shown = json.dumps(value) if isinstance(value, dict) else f"{value:.4g}"
        table.add_row(key, shown)
    for key, threshold in model.thresholds.to_dict().items():
        table.add_row(f"threshold {key}", f"{threshold:.2f}")
    results.print(table)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise typer.BadParameter(f"{path}:{number}: needs a string field 'text'")
        rows.append(row)
    return rows


MAX_TEXT = MAX_TEXT_CHARS
PREDICT_BATCH = 64


@intent_app.command()
def predict(
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to understand.")] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input", exists=True, dir_okay=False, help="JSONL: {text, lang?} a line."),
    ] = None,
    encoder: EncoderOpt = DEFAULT_ENCODER,
    model_dir: ModelDirOpt = DEFAULT_MODEL_DIR,
    data: DataOpt = None,
) -> None:
    """Write one prediction per text as JSON Lines to stdout (texts from arguments or a JSONL
    file; each capped at MAX_TEXT characters, like the API); progress goes to stderr."""
    rows = [{"text": t} for t in texts or []]
    if input_file is not None:
        rows += _read_jsonl(input_file)
    if not rows:
        raise typer.BadParameter("give TEXT arguments or --input FILE.jsonl")
    try:
        model = _load(encoder, model_dir, data)
    except IntentError as exc:
        raise _fail(exc) from exc
    capped = sum(len(r["text"]) > MAX_TEXT for r in rows)
    if capped:
        console.print(f"[yellow]{capped} text(s) longer than {MAX_TEXT} characters: "
                      f"only their first {MAX_TEXT} are read (as the API does)[/]")  # fmt: skip
    out = sys.stdout
    with _progress() as progress:
        task = progress.add_task("predicting", total=len(rows))
        for start in range(0, len(rows), PREDICT_BATCH):
            batch = rows[start : start + PREDICT_BATCH]
            predictions = model.predict([r["text"][:MAX_TEXT] for r in batch],
                                        langs=[r.get("lang") for r in batch])  # fmt: skip
            for prediction in predictions:
                out.write(prediction.model_dump_json() + "\n")
            out.flush()
            progress.advance(task, len(batch))


def _eval_table(
    truth: list[str], predictions: list[IntentPrediction], latencies: list[float]
) -> Table:
    predicted = [p.intent.name for p in predictions]
    y = np.asarray(truth, dtype=object)
    pred = np.asarray(predicted, dtype=object)
    is_oos, pred_oos = y == OUT_OF_SCOPE, pred == OUT_OF_SCOPE
    table = Table(title="intent evaluation")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("examples", str(len(y)))
    table.add_row("accuracy", f"{np.mean(pred == y):.4f}")
    table.add_row("macro-F1", f"{macro_f1(y, pred):.4f}")
    if (~is_oos).any():
        table.add_row("in-scope accuracy", f"{np.mean(pred[~is_oos] == y[~is_oos]):.4f}")
    table.add_row("unknown rate", f"{np.mean(pred == UNKNOWN):.4f}")
    if is_oos.any():
        tp = float(np.sum(is_oos & pred_oos))
        table.add_row("OOS recall", f"{tp / is_oos.sum():.4f}")
        table.add_row("OOS precision", f"{tp / max(pred_oos.sum(), 1):.4f}")
    ordered = sorted(latencies)
    table.add_row("latency median ms", f"{statistics.median(ordered):.2f}")
    table.add_row("latency p99 ms", f"{ordered[int(0.99 * (len(ordered) - 1))]:.2f}")
    return table


def _save_confusion(truth: list[str], predicted: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    labels = sorted(set(truth) | set(predicted))
    size = max(6.0, 0.3 * len(labels))
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(
        truth,
        predicted,
        labels=labels,
        ax=ax,
        xticks_rotation="vertical",
        colorbar=False,
        include_values=len(labels) <= 20,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@intent_app.command("eval")
def evaluate(
    dataset: Annotated[
        Path, typer.Option("--dataset", exists=True, dir_okay=False, help="JSONL: text, intent.")
    ],
    confusion: Annotated[
        Path | None, typer.Option("--confusion", help="Write a confusion matrix PNG here.")
    ] = None,
    encoder: EncoderOpt = DEFAULT_ENCODER,
    model_dir: ModelDirOpt = DEFAULT_MODEL_DIR,
    data: DataOpt = None,
) -> None:
    """Accuracy, macro-F1, OOS precision/recall and per-sentence latency on a labelled JSONL."""
    rows = _read_jsonl(dataset)
    if any(not isinstance(r.get("intent"), str) for r in rows):
        raise typer.BadParameter(f"{dataset}: every line needs a string field 'intent'")
    try:
        model = _load(encoder, model_dir, data)
    except IntentError as exc:
        raise _fail(exc) from exc
    predictions: list[IntentPrediction] = []
    latencies: list[float] = []
    with _progress() as progress:
        for row in progress.track(rows, description="predicting one by one"):
            start = time.perf_counter()
            predictions.extend(model.predict([row["text"][:MAX_TEXT]], langs=[row.get("lang")]))
            latencies.append((time.perf_counter() - start) * 1000)
    truth = [r["intent"] for r in rows]
    results.print(_eval_table(truth, predictions, latencies))
    if confusion is not None:
        _save_confusion(truth, [p.intent.name for p in predictions], confusion)
        console.print(f"confusion matrix written to {confusion}")
