"""The apps and clients the service tests share.

Every test app is built by ``create_app(make_settings(**overrides))`` (:mod:`tests.service.apps`)
and used through ``TestClient`` as a context manager, so its lifespan runs. A module states what
its app needs once, in a module-level ``APP_SETTINGS`` dict of settings overrides; then

- ``client``: a fresh app on the in-process backend for each test;
- ``backend_client``: one app per module and backend (``memory``, ``redis``), for modules whose
  tests use their own ids; the Redis keys are removed afterwards;
- ``app_client(**overrides)``: more apps inside one test (``APP_SETTINGS`` plus ``overrides``),
  closed when the test ends.

A module that must do something with a fresh client before its tests (define content, start a
test) overrides ``client`` with a fixture that takes the shared ``client``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.service.apps import AppClient, drop_prefix, make_settings


def _module_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(getattr(request.module, "APP_SETTINGS", {}))


@pytest.fixture
def app_client(request: pytest.FixtureRequest) -> Iterator[AppClient]:
    """``app_client(**overrides)``: a started client for the module's settings plus
    ``overrides``; every one is stopped at the end of the test."""
    with ExitStack() as stack:

        def open_client(**overrides: Any) -> TestClient:
            settings = make_settings(**(_module_settings(request) | overrides))
            return stack.enter_context(TestClient(create_app(settings)))

        yield open_client


@pytest.fixture
def client(app_client: AppClient) -> TestClient:
    """A fresh app on the in-process backend, with the module's ``APP_SETTINGS``."""
    return app_client()


@pytest.fixture(scope="module", params=["memory", "redis"])
def backend_client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """One app per module and backend (its start is slow); tests use their own ids."""
    overrides = _module_settings(request)
    if request.param == "redis":
        overrides |= {"redis_url": request.getfixturevalue("redis_url"),
                      "redis_prefix": f"kt{uuid.uuid4().hex[:10]}"}  # fmt: skip
    with TestClient(create_app(make_settings(**overrides))) as test_client:
        yield test_client
    if request.param == "redis":
        drop_prefix(overrides["redis_url"], overrides["redis_prefix"])
