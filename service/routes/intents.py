"""Intent recognition and the marketer loop: predict, add examples, retrain, inspect."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from intent.catalog import IntentSpec
from intent.errors import ModelNotReady
from intent.model import MAX_TEXT_CHARS, IntentPrediction
from intent.service import IntentService, TrainJob
from intent.situation import ContextInput
from intent.training import Example
from service.deps import OptionalIntentServiceDep, SituationReaderDep

router = APIRouter(prefix="/v1", tags=["intents"])
admin_router = APIRouter(prefix="/v1", tags=["intents"])  # the marketer loop: admin key


async def get_intent_service(service: OptionalIntentServiceDep) -> IntentService:
    if service is None:
        raise ModelNotReady("intent recognition is turned off here (set KAIROS_INTENT_ENCODER)")
    return service


IntentServiceDep = Annotated[IntentService, Depends(get_intent_service)]


class IntentRequest(BaseModel):
    """One utterance or search term to understand."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, examples=["wo ist meine bestellung"])
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    context: ContextInput | None = Field(
        default=None, description="The visit's context: its situation is evidence for the phase "
        "and moment (see POST /v1/situation).")


class ExampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    intent: str = Field(min_length=2, max_length=64)
    lang: str = Field(pattern=r"^[a-z]{2}$")


class IntentDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    phase: str
    moment: str
    description: str = ""


class ExamplesCreate(BaseModel):
    """Examples to add; intents not yet in the catalogue must be defined in ``intents``."""

    model_config = ConfigDict(extra="forbid")

    examples: list[ExampleIn] = Field(min_length=1, max_length=1000)
    intents: list[IntentDefinition] = Field(default_factory=list, max_length=100)


class ExamplesAdded(BaseModel):
    added: int
    user_examples: int
    model_version: str
    hint: str = "POST /v1/intents/train to train a model that uses them"


class TrainJobPublic(BaseModel):
    job_id: str
    state: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    previous_version: str
    version: str | None
    metrics: dict[str, Any]
    error: str | None

    @classmethod
    def of(cls, job: TrainJob) -> TrainJobPublic:
        return cls(
            job_id=job.job_id,
            state=job.state,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            previous_version=job.previous_version,
            version=job.version,
            metrics=job.metrics,
            error=job.error,
        )


class IntentInfo(BaseModel):
    name: str
    phase: str
    moment: str
    description: str


class IntentCatalogPublic(BaseModel):
    model_version: str
    data_hash: str
    created_at: str
    thresholds: dict[str, float]
    metrics: dict[str, Any]
    intents: list[IntentInfo]
    latest_job: TrainJobPublic | None


@router.post("/intent", response_model=IntentPrediction)
def predict_intent(
    body: IntentRequest, service: IntentServiceDep, reader: SituationReaderDep
) -> IntentPrediction:
    """Intent, phase, micro-moment and the reasons for one text (and its situation)."""
    situation = None
    if body.context is not None:
        situation = reader.read(body.context, text=body.text)
    return service.predict([body.text], langs=[body.lang], situations=[situation])[0]


@admin_router.post("/intents/examples", status_code=status.HTTP_201_CREATED)
def add_examples(body: ExamplesCreate, service: IntentServiceDep) -> ExamplesAdded:
    """Store examples for the next training (the live model is not changed)."""
    total = service.add_examples(
        [Example(text=e.text, intent=e.intent, lang=e.lang) for e in body.examples],
        new_intents=[IntentSpec(**d.model_dump()) for d in body.intents],
    )
    return ExamplesAdded(
        added=len(body.examples), user_examples=total, model_version=service.model.version
    )


@admin_router.post("/intents/train", status_code=status.HTTP_202_ACCEPTED)
async def train(service: IntentServiceDep) -> TrainJobPublic:
    """Retrain in the background; the old model keeps answering until the new one is swapped in."""
    return TrainJobPublic.of(await service.retrain())


@admin_router.get("/intents/train/{job_id}")
def train_status(job_id: str, service: IntentServiceDep) -> TrainJobPublic:
    return TrainJobPublic.of(service.job(job_id))


@admin_router.get("/intents")
def catalog(service: IntentServiceDep) -> IntentCatalogPublic:
    """The intent catalogue with the current model version and its evaluation figures."""
    info = service.status()
    latest: TrainJob | None = info["latest_job"]
    return IntentCatalogPublic(
        model_version=info["model_version"],
        data_hash=info["data_hash"],
        created_at=info["created_at"],
        thresholds=info["thresholds"],
        metrics=info["metrics"],
        intents=[IntentInfo(**spec) for spec in service.model.catalog.to_list()],
        latest_job=TrainJobPublic.of(latest) if latest is not None else None,
    )
