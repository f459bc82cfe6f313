from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from intent.encoder import HashingEncoder
from intent.errors import ModelNotReady
from intent.model import USER_EXAMPLES_FILE, IntentModel
from intent.registry import ModelRegistry
from intent.training import Example, append_user_examples, load_training_data
from tests.intent.intent_factories import write_small_data


def test_load_or_train_reuses_the_model_of_the_same_data(tmp_path: Path) -> None:
    data = write_small_data(tmp_path / "data.yml")
    model_dir = tmp_path / "models"
    first = IntentModel.load_or_train(
        encoder=HashingEncoder(),
        model_dir=model_dir,
        data_path=data,
    )
    second = IntentModel.load_or_train(
        encoder=HashingEncoder(),
        model_dir=model_dir,
        data_path=data,
    )
    assert second.version == first.version
    assert second.metrics == first.metrics
    assert second.thresholds == first.thresholds
    texts = ["wo ist mein paket", "return label", "wetter"]
    assert np.allclose(
        first.classifier.predict_proba(texts), second.classifier.predict_proba(texts), atol=1e-6
    )


def test_new_user_examples_change_the_hash_and_train_a_new_version(tmp_path: Path) -> None:
    data = write_small_data(tmp_path / "data.yml")
    model_dir = tmp_path / "models"
    first = IntentModel.load_or_train(encoder=HashingEncoder(), model_dir=model_dir, data_path=data)
    append_user_examples(
        model_dir / USER_EXAMPLES_FILE,
        [Example("mein päckchen ist weg", "track_order", "de")],
        catalog=load_training_data([data]).catalog,
    )
    progress: list[float] = []
    second = IntentModel.load_or_train(
        encoder=HashingEncoder(),
        model_dir=model_dir,
        data_path=data,
        progress=lambda step, done: progress.append(done),
    )
    assert second.version != first.version
    assert progress and progress[-1] == 1.0
    assert len(ModelRegistry(model_dir / "models").versions()) == 2


def test_a_damaged_saved_model_is_reported(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelNotReady, match="v1"):
        registry.load("v1")
