from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from intent.catalog import OUT_OF_SCOPE
from intent.errors import TrainingDataError
from intent.evaluation import macro_f1
from intent.model import IntentModel
from intent.training import load_training_data
from tests.intent.intent_factories import train_small_model


@dataclass(frozen=True)
class Ev:
    name: str
    phase: str | None
    moment: str | None
    weight: float
    detail: str = ""


@dataclass(frozen=True)
class Lang:
    code: str | None


@dataclass(frozen=True)
class FakeSituation:
    evidence: list[Ev] = field(default_factory=list)
    language: Lang = Lang(None)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> IntentModel:
    return train_small_model(tmp_path_factory.mktemp("small"))


def test_predicts_intent_phase_and_moment_in_both_languages(model: IntentModel) -> None:
    de, en = model.predict(["wo ist mein paket bitte", "where is my parcel please"])
    for p in (de, en):
        assert p.intent.name == "track_order"
        assert (p.phase.name, p.moment.name) == ("use", "service")
        assert not p.out_of_scope
        assert p.model_version == model.version
        assert p.ranking[0].name == "track_order" and len(p.ranking) == 5
        assert [r.confidence for r in p.ranking] == sorted(
            (r.confidence for r in p.ranking), reverse=True
        )
    assert (de.language, en.language) == ("de", "en")


def test_out_of_scope_text_is_flagged_and_has_no_phase(model: IntentModel) -> None:
    (p,) = model.predict(["wie wird das wetter morgen"])
    assert p.out_of_scope and p.intent.name == OUT_OF_SCOPE
    assert p.phase.name == "unknown" and p.moment.name == "unknown"
    assert p.reasons[0].startswith("intent: out of scope")


def test_language_comes_from_argument_then_situation(model: IntentModel) -> None:
    a, b = model.predict(
        ["paket status", "paket status"],
        langs=["en", None],
        situations=[None, FakeSituation(language=Lang("fr"))],
    )
    assert (a.language, b.language) == ("en", "fr")


def test_situation_evidence_moves_the_phase_and_is_explained(model: IntentModel) -> None:
    text = "filiale in der nähe"
    (plain,) = model.predict([text])
    weak, strong = model.predict(
        [text, text],
        situations=[
            FakeSituation([Ev("cart_open", "purchase", None, 0.3)]),
            # the text floor is 1e-4, so ten full-weight hints (e^10 > 1e4) always win
            FakeSituation([Ev("cart_open", "purchase", None, 1.0)] * 10),
        ],
    )
    assert plain.phase.name == "consider"
    assert weak.phase.name == "consider"  # one weak hint does not overrule clear text
    assert weak.phase.confidence < plain.phase.confidence
    fused = strong
    assert fused.phase.name == "purchase"
    assert fused.intent.name == plain.intent.name  # evidence does not change the intent
    assert fused.intent.confidence == pytest.approx(plain.intent.confidence, abs=1e-5)
    assert any("cart_open" in r and "purchase" in r for r in fused.reasons)


def test_thresholds_and_metrics_come_from_cross_validation(model: IntentModel) -> None:
    assert 0.0 <= model.thresholds.oos < 1.0
    for key in ("accuracy", "macro_f1", "oos_recall", "phase_accuracy", "moment_accuracy"):
        assert 0.0 <= model.metrics[key] <= 1.0
    assert set(model.metrics["phase_accuracy_by_language"]) == {"de", "en"}


def test_training_needs_two_intents(tmp_path: Path) -> None:
    path = tmp_path / "one.yml"
    path.write_text(
        "intents:\n  a_b:\n    phase: use\n    moment: do\n    examples: {de: [x, y, z]}\n",
        encoding="utf-8",
    )
    from intent.encoder import HashingEncoder

    with pytest.raises(TrainingDataError, match="two intents"):
        IntentModel.train(load_training_data([path]), encoder=HashingEncoder())


@pytest.mark.parametrize("text", ["", "   \n\t", "👍", "?!...", "🙂🙂 🎉"])
def test_text_without_words_is_unknown_whatever_the_model_thinks(
    model: IntentModel, text: str
) -> None:
    [prediction] = model.predict([text])
    assert prediction.intent.name == "unknown" and prediction.intent.confidence == 0.0
    assert prediction.ranking == [] and not prediction.out_of_scope
    assert prediction.phase.name == "unknown" and "no words" in prediction.reasons[0]


def test_macro_f1_averages_over_the_gold_labels_only() -> None:
    # two gold intents, one answered right, one abstained on: unknown is no class of its own
    truth = ["track_order", "track_order", "return_item", "return_item"]
    said = ["track_order", "track_order", "return_item", "unknown"]
    # track_order F1 1.0; return_item precision 1, recall 0.5 -> F1 0.667; mean 0.833
    assert macro_f1(truth, said) == pytest.approx((1.0 + 2 / 3) / 2)
