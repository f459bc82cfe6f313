"""A/B test routes: define, start, one test per slot, results, stop."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, INTEGRATION

APP_SETTINGS = INTEGRATION


def test_abtests_lifecycle_and_conflicts(client: TestClient) -> None:
    definition = {"slot": "hero", "goal": "click", "stop_rule": "fixed_horizon",
                  "baseline_rate": 0.1, "minimum_effect": 0.5,
                  "variants": [{"name": "a", "item_id": "i-a", "share": 0.5},
                               {"name": "b", "item_id": "i-b", "share": 0.5}]}  # fmt: skip
    created = client.put("/v1/abtests/hero-1", headers=ADMIN, json=definition)
    assert created.status_code == 200 and created.json()["required_per_variant"] == 686
    client.put("/v1/abtests/hero-2", headers=ADMIN, json=definition)
    assert client.post("/v1/abtests/hero-1/start", headers=ADMIN).json()["status"] == "running"
    conflict = client.post("/v1/abtests/hero-2/start", headers=ADMIN)
    assert conflict.status_code == 409 and "already runs on slot" in conflict.json()["detail"]
    assert client.put("/v1/abtests/hero-1", headers=ADMIN, json=definition).status_code == 409
    results = client.get("/v1/abtests/hero-1/results", headers=ADMIN).json()
    assert not results["decided"] and "no verdict before the horizon" in results["verdict"]
    assert [v["participants"] for v in results["variants"]] == [0, 0]
    assert client.post("/v1/abtests/hero-1/stop", headers=ADMIN).json()["status"] == "stopped"
    assert client.delete("/v1/abtests/hero-1", headers=ADMIN).status_code == 204
    assert client.get("/v1/abtests/hero-1", headers=ADMIN).status_code == 404
    shares = {**definition, "variants": [{"name": "a", "item_id": "x", "share": 0.9},
                                         {"name": "b", "item_id": "y", "share": 0.3}]}
    assert client.put("/v1/abtests/bad", headers=ADMIN, json=shares).status_code == 422
