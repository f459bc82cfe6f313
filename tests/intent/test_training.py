from __future__ import annotations

from pathlib import Path

import pytest

from intent.catalog import OUT_OF_SCOPE
from intent.errors import TrainingDataError, UnknownIntent
from intent.training import (
    DEFAULT_DATA_PATH,
    Example,
    append_user_examples,
    data_hash,
    load_training_data,
)
from tests.intent.intent_factories import write_small_data


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_data_meets_the_contract() -> None:
    data = load_training_data([DEFAULT_DATA_PATH])
    assert len(data.catalog) >= 35
    per_lang: dict[tuple[str, str], int] = {}
    for e in data.examples:
        per_lang[(e.intent, e.lang)] = per_lang.get((e.intent, e.lang), 0) + 1
    for name in data.catalog:
        assert per_lang.get((name, "de"), 0) >= 20, name
        assert per_lang.get((name, "en"), 0) >= 20, name
    assert per_lang[(OUT_OF_SCOPE, "de")] >= 20 and per_lang[(OUT_OF_SCOPE, "en")] >= 20
    phases = {spec.phase for spec in data.catalog.values()}
    moments = {spec.moment for spec in data.catalog.values()}
    assert phases == {"explore", "consider", "purchase", "use", "churn"}
    assert moments == {"know", "go", "do", "buy", "service", "problem"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("intents: [a, b", "not valid YAML"),
        ("- just a list\n", "top level must be a mapping"),
        ("intents:\n  track_order:\n    phase: use\n    examples: {de: [x]}\n", "needs both"),
        (
            "intents:\n  track_order:\n    phase: later\n    moment: service\n",
            "phase 'later'",
        ),
        ("intents:\n  Track Order:\n    phase: use\n    moment: service\n", "snake_case"),
        ("intents:\n  unknown:\n    phase: use\n    moment: service\n", "reserved"),
        ("intents:\n  a_b:\n    phase: use\n    moment: do\n    colour: red\n", "colour"),
        (
            "intents:\n  a_b:\n    phase: use\n    moment: do\n    examples: {german: [x]}\n",
            "two-letter code",
        ),
        (
            "intents:\n  a_b:\n    phase: use\n    moment: do\n    examples: {de: ['  ']}\n",
            "empty example",
        ),
        (
            "intents:\n  a_b:\n    phase: use\n    moment: do\n    examples: {de: [hallo]}\n"
            "  c_d:\n    phase: use\n    moment: do\n    examples: {de: [Hallo]}\n",
            "labelled both",
        ),
    ],
)
def test_bad_yaml_gives_a_clear_training_data_error(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(TrainingDataError, match=expected) as info:
        load_training_data([path])
    assert str(path) in str(info.value)


def test_too_few_examples_names_the_intent(tmp_path: Path) -> None:
    path = _write(tmp_path, "intents:\n  a_b:\n    phase: use\n    moment: do\n")
    with pytest.raises(TrainingDataError, match="'a_b' has 0 examples"):
        load_training_data([path], min_examples=1)


def test_hash_ignores_order_but_not_content(tmp_path: Path) -> None:
    a = _write(
        tmp_path,
        "intents:\n  a_b:\n    phase: use\n    moment: do\n    examples: {de: [eins, zwei]}\n",
    )
    first = data_hash(load_training_data([a]))
    b = _write(
        tmp_path,
        "intents:\n  a_b:\n    phase: use\n    moment: do\n    examples: {de: [zwei, eins]}\n",
    )
    assert data_hash(load_training_data([b])) == first
    c = _write(
        tmp_path,
        "intents:\n  a_b:\n    phase: use\n    moment: do\n    examples: {de: [zwei, drei]}\n",
    )
    assert data_hash(load_training_data([c])) != first


def test_user_examples_merge_with_the_base_and_can_define_intents(tmp_path: Path) -> None:
    base = write_small_data(tmp_path / "base.yml")
    user = tmp_path / "model" / "user.yml"
    catalog = load_training_data([base]).catalog
    from intent.catalog import IntentSpec

    total = append_user_examples(
        user,
        [
            Example("paket ist verschwunden wo", "track_order", "de"),
            Example("gutschein einlösen", "apply_voucher", "de"),
            Example("wie alt ist der mond", OUT_OF_SCOPE, "de"),
        ],
        catalog=catalog,
        new_intents=[IntentSpec("apply_voucher", "purchase", "buy")],
    )
    assert total == 3
    merged = load_training_data([base, user])
    assert merged.catalog["apply_voucher"].moment == "buy"
    assert Example("paket ist verschwunden wo", "track_order", "de") in merged.examples
    assert Example("wie alt ist der mond", OUT_OF_SCOPE, "de") in merged.examples
    assert merged.hash != load_training_data([base]).hash


def test_user_example_of_an_undefined_intent_is_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    base = write_small_data(tmp_path / "base.yml")
    user = tmp_path / "user.yml"
    catalog = load_training_data([base]).catalog
    with pytest.raises(UnknownIntent, match="no_such_intent"):
        append_user_examples(user, [Example("x y", "no_such_intent", "de")], catalog=catalog)
    assert not user.exists()
