"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

A real Kairos over HTTP (uvicorn in a thread, in-process store) gets a bounded number of
generated requests per operation, valid and invalid. Whatever is sent: never a 5xx, and every
4xx is ``application/problem+json`` with a ``detail`` a person can read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from service.app import create_app
from service.settings import PACKAGE_ROOT
from tests.http_servers import wait_ready
from tests.redis_servers import free_port
from tests.service.apps import ADMIN_KEY, make_settings

# Retraining starts a background job per call: fuzzing it would only queue trainings.
SKIPPED = {("POST", "/v1/intents/train")}
MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = create_app(make_settings(content_dir=PACKAGE_ROOT / "content_pool" / "demo",
                                   link_secret="fuzzing-secret-of-32-bytes-long!",
                                   log_level="WARNING"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="kairos-fuzz-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, timeout=60, gone=lambda: None if thread.is_alive() else "thread ended")
    yield base
    server.should_exit = True
    thread.join(timeout=15)


def check(case: schemathesis.Case, base_url: str) -> None:
    response = case.call(base_url=base_url, headers={"X-API-Key": ADMIN_KEY}, timeout=30)
    request = f"{case.method.upper()} {case.formatted_path}"
    assert response.status_code < 500, f"{request} -> {response.status_code}: {response.text[:300]}"
    if 400 <= response.status_code < 500:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/problem+json"), (
            f"{request} -> {response.status_code} as {content_type}")
        assert response.json().get("detail"), f"{request}: a problem without detail"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_problems_for_client_errors(
    base_url: str, mode: GenerationMode
) -> None:
    api = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in SKIPPED]
    assert len(operations) >= 30
    if mode is GenerationMode.NEGATIVE:  # only what takes input can get invalid input
        operations = [op for op in operations
                      if len(op.body) or len(op.query) or len(op.path_parameters)]
    fuzzed = 0
    for operation in operations:

        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            check(case, base_url)

        try:
            run()
        except Unsatisfiable:  # the schema leaves no invalid value to generate here
            continue
        fuzzed += 1
    assert fuzzed >= 20
