from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from intent.catalog import IntentSpec
from intent.encoder import HashingEncoder
from intent.errors import TrainingJobNotFound, UnknownIntent
from intent.service import IntentService
from intent.training import Example
from tests.intent.intent_factories import write_small_data


def _service(tmp_path: Path) -> IntentService:
    return IntentService.load_or_train(
        encoder=HashingEncoder(),
        model_dir=tmp_path / "model",
        data_path=write_small_data(tmp_path / "data.yml"),
    )


async def _wait(service: IntentService, job_id: str) -> str:
    for _ in range(600):
        state = service.job(job_id).state
        if state in ("succeeded", "failed"):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("training did not finish")


async def test_retrain_swaps_atomically_while_predictions_keep_flowing(tmp_path: Path) -> None:
    service = _service(tmp_path)
    old = service.model.version
    service.add_examples(
        [Example(f"gutschein code {i} einlösen", "apply_voucher", "de") for i in range(6)]
        + [Example(f"redeem voucher code {i}", "apply_voucher", "en") for i in range(6)],
        new_intents=[IntentSpec("apply_voucher", "purchase", "buy")],
    )
    assert service.model.version == old  # examples alone do not change the live model

    seen: set[str] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                (p,) = service.predict(["wo ist mein paket"], langs=["de"])
                seen.add(p.model_version)
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        job = await service.retrain()
        assert job.state == "queued" and job.previous_version == old
        assert await _wait(service, job.job_id) == "succeeded"
        (after,) = service.predict(["wo ist mein paket"], langs=["de"])
    finally:
        stop.set()
        for t in threads:
            t.join()
        service.close()
    finished = service.job(job.job_id)
    assert errors == []
    assert finished.version == service.model.version != old
    assert seen <= {old, finished.version} and old in seen
    assert after.model_version == finished.version
    assert "apply_voucher" in service.model.catalog
    assert service.status()["latest_job"].job_id == job.job_id


async def test_failed_training_keeps_the_old_model(tmp_path: Path) -> None:
    service = _service(tmp_path)
    old = service.model.version
    (tmp_path / "model" / "user_examples.yml").write_text("intents: [", encoding="utf-8")
    job = await service.retrain()
    try:
        assert await _wait(service, job.job_id) == "failed"
    finally:
        service.close()
    assert "not valid YAML" in (service.job(job.job_id).error or "")
    assert service.model.version == old


def test_examples_for_unknown_intents_are_refused(tmp_path: Path) -> None:
    service = _service(tmp_path)
    with pytest.raises(UnknownIntent):
        service.add_examples([Example("hallo", "greet_me", "de")])
    with pytest.raises(TrainingJobNotFound):
        service.job("nope")
    service.close()
