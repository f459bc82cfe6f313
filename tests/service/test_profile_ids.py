"""One grammar of person ids on every route: e-mail-like ids work everywhere, and a bad id gets
the same 422 message everywhere (``personalization.profiles.ids``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from personalization.profiles.ids import ID_MESSAGE
from tests.service.apps import ADMIN, DEMO_CONTENT, SERVER

MODEL_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "intent-models-hashing"
APP_SETTINGS = {"holdout_share": 0, "intent_encoder": "hashing", "intent_model_dir": MODEL_CACHE,
                "content_dir": DEMO_CONTENT}


def _requests(who: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        "events": ("POST", "/v1/events", {"json": {
            "event_id": f"e-{len(who)}", "type": "login", "profile_id": who}}),
        "decide": ("POST", "/v1/decide", {"json": {
            "session_id": "s-1", "profile_id": who, "slots": ["hero"]}}),
        "decide anonymous": ("POST", "/v1/decide", {"json": {
            "session_id": "s-1", "anonymous_id": who, "slots": ["hero"]}}),
        "blocks": ("GET", "/v1/blocks/hero", {"params": {"profile_id": who}}),
        "chat": ("POST", "/v1/chat", {"json": {
            "session_id": "s-1", "profile_id": who, "message": "Hallo"}}),
    }


@pytest.mark.parametrize("who", ["ada.lovelace@example.org", "C-0042:shop_de"])
def test_e_mail_like_and_crm_ids_work_on_every_route(client: TestClient, who: str) -> None:
    for name, (method, url, kwargs) in _requests(who).items():
        answer = client.request(method, url, headers=SERVER, **kwargs)
        assert answer.status_code in (200, 204), f"{name}: {answer.text}"
    assert client.get(f"/v1/profiles/{who}", headers=ADMIN).json()["profile_id"] == who


@pytest.mark.parametrize("bad", ["", "has space", "x" * 129, "<script>", "ümlaut"])
def test_a_bad_id_gets_the_same_422_everywhere(client: TestClient, bad: str) -> None:
    messages = set()
    for name, (method, url, kwargs) in _requests(bad).items():
        answer = client.request(method, url, headers=SERVER, **kwargs)
        assert answer.status_code == 422, f"{name}: {answer.status_code}"
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        found = body["errors"][0]
        messages.add(found.get("message") or found["reason"].removeprefix("profile_id: "))
        assert body["detail"].endswith(ID_MESSAGE), body["detail"]
    assert messages == {ID_MESSAGE}
