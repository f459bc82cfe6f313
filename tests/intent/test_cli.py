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


def test_predict_writes_json_lines_to_stdout_and_the_rest_to_stderr(tmp_path: Path) -> None:
    data = write_small_data(tmp_path / "data.yml")
    runner.invoke(intent_app, ["train", "--data", str(data), *_base(tmp_path)])
    jsonl = tmp_path / "in.jsonl"
    lines = [{"text": "where is my parcel", "lang": "en"}, {"text": "   "}, {"text": "👍"},
             {"text": "wo ist mein paket " * 2000}]  # fmt: skip
    jsonl.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    result = runner.invoke(
        intent_app,
        ["predict", "wo ist mein paket", "--input", str(jsonl), "--data", str(data),
         *_base(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    predictions = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(predictions) == 5 and all(p["model_version"] for p in predictions)
    # blank and emoji-only text has nothing to understand: unknown, without a ranking
    for blank in predictions[2:4]:
        assert blank["intent"]["name"] == "unknown" and blank["ranking"] == []
        assert "no words" in blank["reasons"][0]
    # a text beyond the API's limit is read up to it, and the user is told on stderr
    assert predictions[4]["intent"]["name"] != "unknown"
    assert "1 text(s) longer than 2000 characters" in result.stderr


def test_eval_reports_bad_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "intent": "a"}\nnot json\n', encoding="utf-8")
    result = runner.invoke(intent_app, ["eval", "--dataset", str(bad), *_base(tmp_path)])
    assert result.exit_code != 0
    assert "bad.jsonl:2" in result.output
