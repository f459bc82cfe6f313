"""Request ids, structured JSON logs and Prometheus metrics, as one pure ASGI middleware."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(body, default=str).decode()


def configure_logging(level: str, *, json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("kairos")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


class Metrics:
    """The Prometheus metrics of one app (own registry, so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "kairos_request_duration_seconds", "Request latency per route",
            ["method", "route", "status"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.decisions = Counter(
            "kairos_decisions_total", "Decisions made", ["degraded"], registry=self.registry)
        self.events = Counter(
            "kairos_events_total", "Events accepted", ["outcome"], registry=self.registry)
        self.deliveries = Gauge(
            "kairos_webhook_deliveries", "Webhook deliveries by state (pending, retrying, dead)",
            ["state"], registry=self.registry)


def _route_of(scope: Scope) -> str:
    # FastAPI records the matched route in the scope; its path template keeps label cardinality low.
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class RequestContextMiddleware:
    """Give every request an id (echoed as ``X-Request-ID``), time it, and log one line."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("kairos.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            self.metrics.latency.labels(scope["method"], route, str(status)).observe(elapsed)
            if route not in ("/healthz", "/metrics"):
                self.log.info(
                    "request",
                    extra={"request_id": request_id, "method": scope["method"],
                           "path": scope["path"], "route": route, "status": status,
                           "ms": round(elapsed * 1000, 3)},
                )
