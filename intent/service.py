"""The marketer loop: add examples, retrain in the background, swap the model atomically.

:class:`IntentService` owns the current :class:`~intent.model.IntentModel`. Requests read
``service.model`` (one attribute read, atomic), so they keep being served by the old model
while a new one trains in a worker thread; the swap is a single assignment.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from intent.catalog import IntentSpec
from intent.encoder import Encoder
from intent.errors import TrainingJobNotFound
from intent.model import USER_EXAMPLES_FILE, IntentModel, IntentPrediction
from intent.training import Example, append_user_examples

Clock = Callable[[], datetime]
JobState = Literal["queued", "running", "succeeded", "failed"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TrainJob:
    """One retraining run; ``version`` is set when it succeeded, ``error`` when it failed."""

    job_id: str
    state: JobState
    created_at: datetime
    previous_version: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    version: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class IntentService:
    """Holds the live model and runs retraining without interrupting predictions.

    ``executor`` runs training (default: one worker thread, so trainings queue up);
    ``clock`` stamps jobs.
    """

    def __init__(
        self,
        model: IntentModel,
        *,
        encoder: Encoder,
        model_dir: Path,
        data_path: Path | None = None,
        random_state: int = 0,
        executor: Executor | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self._model = model
        self.encoder = encoder
        self.model_dir = Path(model_dir)
        self.data_path = data_path
        self.random_state = random_state
        self._executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="intent-train"
        )
        self._owns_executor = executor is None
        self._clock = clock
        self._jobs: dict[str, TrainJob] = {}
        self._lock = threading.Lock()

    @classmethod
    def load_or_train(
        cls,
        *,
        encoder: Encoder,
        model_dir: Path,
        data_path: Path | None = None,
        random_state: int = 0,
    ) -> IntentService:
        """Build the service around :meth:`IntentModel.load_or_train` (for the app lifespan)."""
        model = IntentModel.load_or_train(
            encoder=encoder, model_dir=model_dir, data_path=data_path, random_state=random_state
        )
        return cls(
            model,
            encoder=encoder,
            model_dir=model_dir,
            data_path=data_path,
            random_state=random_state,
        )

    @property
    def model(self) -> IntentModel:
        """The model serving requests right now."""
        return self._model

    def predict(
        self,
        texts: Sequence[str],
        *,
        langs: Sequence[str | None] | None = None,
        situations: Sequence[object | None] | None = None,
    ) -> list[IntentPrediction]:
        return self._model.predict(texts, langs=langs, situations=situations)

    def swap(self, model: IntentModel) -> IntentModel:
        """Replace the live model; returns the previous one."""
        with self._lock:
            previous, self._model = self._model, model
        return previous

    def add_examples(
        self, examples: Sequence[Example], *, new_intents: Sequence[IntentSpec] = ()
    ) -> int:
        """Persist examples to the user file (used by the next training); returns its size.

        Raises :class:`~intent.errors.UnknownIntent` for an example of an undefined intent
        and :class:`~intent.errors.TrainingDataError` for an invalid new intent.
        """
        with self._lock:
            return append_user_examples(
                self.model_dir / USER_EXAMPLES_FILE,
                examples,
                catalog=self._model.catalog,
                new_intents=new_intents,
            )

    async def retrain(self) -> TrainJob:
        """Start retraining in the background and return the queued job at once."""
        job = TrainJob(
            job_id=uuid.uuid4().hex,
            state="queued",
            created_at=self._clock(),
            previous_version=self._model.version,
        )
        self._store(job)
        loop = asyncio.get_running_loop()
        loop.run_in_executor(self._executor, self._run, job.job_id)
        return job

    def retrain_blocking(self) -> TrainJob:
        """Train in the calling thread (the CLI's ``train``); returns the finished job."""
        job = TrainJob(
            job_id=uuid.uuid4().hex,
            state="queued",
            created_at=self._clock(),
            previous_version=self._model.version,
        )
        self._store(job)
        self._run(job.job_id)
        return self.job(job.job_id)

    def _run(self, job_id: str) -> None:
        self._update(job_id, state="running", started_at=self._clock())
        try:
            model = IntentModel.load_or_train(
                encoder=self.encoder,
                model_dir=self.model_dir,
                data_path=self.data_path,
                random_state=self.random_state,
            )
        except Exception as exc:  # a failed training must never take the live model down
            self._update(job_id, state="failed", finished_at=self._clock(), error=str(exc))
            return
        self.swap(model)
        self._update(
            job_id,
            state="succeeded",
            finished_at=self._clock(),
            version=model.version,
            metrics=model.metrics,
        )

    def _store(self, job: TrainJob) -> None:
        with self._lock:
            self._jobs[job.job_id] = job

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def job(self, job_id: str) -> TrainJob:
        """A job by id; raises :class:`~intent.errors.TrainingJobNotFound`."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise TrainingJobNotFound(f"no intent training job {job_id!r}")
        return job

    def status(self) -> dict[str, Any]:
        """Current version, its evaluation figures and thresholds, and the latest job."""
        model = self._model
        with self._lock:
            latest = max(self._jobs.values(), key=lambda j: j.created_at, default=None)
        return {
            "model_version": model.version,
            "data_hash": model.data_hash,
            "created_at": model.created_at,
            "metrics": model.metrics,
            "thresholds": model.thresholds.to_dict(),
            "latest_job": latest,
        }

    def close(self) -> None:
        """Stop the worker thread if this service created it (waits for a running training)."""
        if self._owns_executor:
            self._executor.shutdown(wait=True, cancel_futures=True)
