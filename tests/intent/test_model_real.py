"""The default model with the real encoder on held-out German and English utterances."""

from __future__ import annotations

import pytest

from intent.encoder import DEFAULT_ENCODER, build_encoder
from intent.model import IntentModel
from intent.training import DEFAULT_DATA_PATH, load_training_data

pytestmark = pytest.mark.model

# Written for this test, none of them is in the training data (checked below).
HELD_OUT = [
    ("wo ist meine bestellung", "de", "track_order", "use", "service"),
    ("where's my order at", "en", "track_order", "use", "service"),
    ("ich möchte die hose zurückgeben", "de", "return_item", "use", "service"),
    ("can i send the jacket back", "en", "return_item", "use", "service"),
    ("gibt es hier in der nähe einen laden von euch", "de", "store_locator", "consider", "go"),
    ("kann man bei euch mit paypal zahlen", "de", "payment_methods", "purchase", "know"),
    ("do you guys accept paypal", "en", "payment_methods", "purchase", "know"),
    ("ich will mein abo beenden bitte", "de", "cancel_subscription", "churn", "service"),
    ("der mixer ist nach drei tagen kaputt gegangen", "de", "defective_product", "use", "problem"),
    ("the blender broke after three days", "en", "defective_product", "use", "problem"),
]
OUT_OF_SCOPE = [
    ("wer hat die fußball wm 2014 gewonnen", "de"),
    ("what's the square root of 144", "en"),
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> IntentModel:
    return IntentModel.load_or_train(
        encoder=build_encoder(DEFAULT_ENCODER), model_dir=tmp_path_factory.mktemp("real")
    )


def test_held_out_sentences_are_not_training_examples() -> None:
    known = {e.text.lower() for e in load_training_data([DEFAULT_DATA_PATH]).examples}
    assert not {text for text, *_ in HELD_OUT + OUT_OF_SCOPE} & known


@pytest.mark.parametrize(("text", "lang", "intent", "phase", "moment"), HELD_OUT)
def test_held_out_utterance(
    model: IntentModel, text: str, lang: str, intent: str, phase: str, moment: str
) -> None:
    (p,) = model.predict([text])
    assert p.language == lang
    assert p.ranking[0].name == intent
    assert (p.phase.name, p.moment.name) == (phase, moment)
    assert not p.out_of_scope


@pytest.mark.parametrize(("text", "lang"), OUT_OF_SCOPE)
def test_out_of_domain_is_out_of_scope(model: IntentModel, text: str, lang: str) -> None:
    (p,) = model.predict([text])
    assert p.out_of_scope


def test_cross_validated_figures_are_sensible(model: IntentModel) -> None:
    m = model.metrics
    assert m["phase_accuracy"] > 0.85 and m["moment_accuracy"] > 0.85
    for lang in ("de", "en"):
        assert m["phase_accuracy_by_language"][lang] > 0.8
