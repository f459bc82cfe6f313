"""Liveness, readiness, metrics and version."""

from __future__ import annotations

from importlib.metadata import version as package_version

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from personalization.errors import STORE_ERRORS
from service.deps import DeliveriesDep, MetricsDep, ReadinessDep
from service.problems import PROBLEM_JSON

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Store reachable and models loaded", response_model=None)
async def readyz(readiness: ReadinessDep) -> JSONResponse:
    report = await readiness.run()
    ready = all(value == "ok" for value in report.values())
    if ready:
        return JSONResponse({"status": "ready", "checks": report})
    missing = "; ".join(f"{k}: {v}" for k, v in report.items() if v != "ok")
    return JSONResponse(
        {"type": "about:blank", "title": "Not ready", "status": 503, "detail": missing,
         "checks": report},
        status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": "2"},
    )


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(metrics: MetricsDep, deliveries: DeliveriesDep) -> Response:
    try:  # read at scrape time: the workers that change them may be other processes
        for state, value in (await deliveries.counts())._asdict().items():
            metrics.deliveries.labels(state).set(value)
    except STORE_ERRORS:  # the store is away (readyz says so): no stale figures
        metrics.deliveries.clear()
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/version", summary="Kairos version")
async def version() -> dict[str, str]:
    return {"version": package_version("kairos")}
