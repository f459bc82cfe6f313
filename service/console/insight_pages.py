"""Console pages that look back: results (what worked) and intents (what the model learned).

Results aggregate the decision counters (:func:`personalization.decisions.reports.content_report`)
per item and per phase/moment and chart CTR with its 95 % interval and the uplift against the
holdout. Intents lists the training examples by intent, takes new ones, starts a retraining and
shows the evaluation figures of the live model and the latest job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from intent.errors import IntentError
from intent.model import USER_EXAMPLES_FILE
from intent.service import IntentService
from intent.training import DEFAULT_DATA_PATH, Example, load_training_data
from personalization.decisions.reports import ContentReport, ReportRow, content_report
from service.console.charts import Bar, bar_chart
from service.console.web import CsrfDep, SessionDep, page

router = APIRouter(prefix="/console", include_in_schema=False)

_MAX_BARS = 15


def _ctr_bars(rows: list[ReportRow]) -> list[Bar]:
    return [
        Bar(
            label=row.key,
            value=row.treatment.ctr,
            low=row.treatment.ctr_low,
            high=row.treatment.ctr_high,
            note=f"{row.treatment.clicks}/{row.treatment.served}",
        )
        for row in rows[:_MAX_BARS]
    ]


def _uplift_bars(rows: list[ReportRow]) -> list[Bar]:
    return [
        Bar(label=row.key, value=row.uplift.absolute, low=row.uplift.low, high=row.uplift.high)
        for row in rows[:_MAX_BARS]
        if row.uplift is not None
    ]


async def _reports(request: Request) -> tuple[ContentReport, ContentReport] | None:
    decider = request.state.components.decider
    if decider is None:
        return None
    namespace = decider.options.stats_namespace
    by_item = await content_report(decider.store, group_by="item", namespace=namespace)
    by_context = await content_report(decider.store, group_by="phase_moment", namespace=namespace)
    return by_item, by_context


@router.get("/results")
async def results(request: Request, session: SessionDep) -> Response:
    reports = await _reports(request)
    context: dict[str, Any] = {"section": "results", "reports": reports}
    if reports is not None:
        by_item, by_context = reports
        context["charts"] = [
            bar_chart(_ctr_bars(by_item.rows), title="CTR per item (treatment, 95 % CI)"),
            bar_chart(_ctr_bars(by_context.rows), title="CTR per phase|moment (95 % CI)"),
            bar_chart(_uplift_bars(by_item.rows), title="Uplift vs holdout per item",
                      signed=True),
            bar_chart(_uplift_bars(by_context.rows), title="Uplift vs holdout per phase|moment",
                      signed=True),
        ]  # fmt: skip
    return page(request, "results.html", context)


def _intent_service(request: Request) -> IntentService | None:
    service: IntentService | None = request.state.components.intent_service
    return service


def _examples(service: IntentService) -> dict[str, list[Example]]:
    data = load_training_data(
        [service.data_path or DEFAULT_DATA_PATH, Path(service.model_dir) / USER_EXAMPLES_FILE]
    )
    grouped: dict[str, list[Example]] = {}
    for example in data.examples:
        grouped.setdefault(example.intent, []).append(example)
    return dict(sorted(grouped.items()))


@router.get("/intents")
async def intents(request: Request, session: SessionDep, intent: str | None = None) -> Response:
    service = _intent_service(request)
    context: dict[str, Any] = {"section": "intents", "service": service, "selected": intent}
    if service is not None:
        grouped = _examples(service)
        context.update(
            grouped=grouped,
            catalog=service.model.catalog,
            status=service.status(),
            shown=grouped.get(intent or "", []) if intent else [],
        )
    return page(request, "intents.html", context)


@router.post("/intents/examples")
async def add_example(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    service = _intent_service(request)
    form = await request.form()
    text, name, lang = (str(form.get(k) or "").strip() for k in ("text", "intent", "lang"))
    if service is None:
        return Response("The intent model is not running in this Kairos.", status_code=503)
    error = None
    if not text or not name or lang not in ("de", "en"):
        error = "Give the text, the intent and the language (de or en)."
    else:
        try:
            service.add_examples([Example(text=text[:500], intent=name, lang=lang)])
        except IntentError as exc:
            error = str(exc)
    if error is not None:
        return page(request, "intents_message.html", {"error": error, "message": None},
                    status_code=422)  # fmt: skip
    return RedirectResponse(f"/console/intents?intent={name}&added=1", status_code=303)


@router.post("/intents/retrain")
async def retrain(request: Request, session: SessionDep, _: CsrfDep) -> Response:
    service = _intent_service(request)
    if service is None:
        return Response("The intent model is not running in this Kairos.", status_code=503)
    job = await service.retrain()
    return page(request, "intents_message.html", {
        "error": None, "message": f"Retraining started (job {job.job_id[:8]}); the current "
        "model keeps answering until the new one is ready. Reload to see the figures.",
    })  # fmt: skip
