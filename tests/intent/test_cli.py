from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from service.cli_intent import intent_app
from tests.intent.intent_factories import write_small_data

runner = CliRunner()


def _base(tmp_path: Path) -> list[str]:
    return ["--encoder", "hashing", "--model-dir", str(tmp_path / "model")]


def test_train_then_predict_and_eval(tmp_path: Path) -> None:
    data = write_small_data(tmp_path / "data.yml")
    trained = runner.invoke(intent_app, ["train", "--data", str(data), *_base(tmp_path)])
    assert trained.exit_code == 0, trained.output
    assert "oos_recall" in trained.output

    dataset = tmp_path / "eval.jsonl"
    rows = [
        {"text": "wo ist mein paket", "intent": "track_order", "lang": "de"},
        {"text": "store near me", "intent": "store_locator", "lang": "en"},
        {"text": "wetter morgen früh", "intent": "out_of_scope", "lang": "de"},
    ]
    dataset.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    png = tmp_path / "confusion.png"
    evaluated = runner.invoke(
        intent_app,
        [
            "eval",
            "--dataset",
            str(dataset),
            "--confusion",
            str(png),
            "--data",
            str(data),
            *_base(tmp_path),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "macro-F1" in evaluated.output and "OOS recall" in evaluated.output
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_predict_prints_one_json_object_per_text(tmp_path: Path) -> None:
    data = write_small_data(tmp_path / "data.yml")
    runner.invoke(intent_app, ["train", "--data", str(data), *_base(tmp_path)])
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text(
        json.dumps({"text": "where is my parcel", "lang": "en"}) + "\n", encoding="utf-8"
    )
    result = runner.invoke(
        intent_app,
        [
            "predict",
            "wo ist mein paket",
            "--input",
            str(jsonl),
            "--data",
            str(data),
            *_base(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.count('"model_version"') == 2


def test_eval_reports_bad_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "intent": "a"}\nnot json\n', encoding="utf-8")
    result = runner.invoke(intent_app, ["eval", "--dataset", str(bad), *_base(tmp_path)])
    assert result.exit_code != 0
    assert "bad.jsonl:2" in result.output
