"""Segment routes: define, validate, list, delete and size."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, INTEGRATION

APP_SETTINGS = INTEGRATION


def test_segments_crud_and_size(client: TestClient) -> None:
    client.post("/v1/imports/events?format=csv", headers=ADMIN, content=(
        "order_id,customer_id,ordered_at,total,category\n" + "".join(
            f"O{i},C{i},2026-01-0{1 + i % 9}T10:00:00Z,{600 if i % 5 == 0 else 30},boots\n"
            for i in range(50))).encode())  # fmt: skip
    put = client.put("/v1/segments/big_spenders", headers=ADMIN,
                     json={"condition": "profile.monetary >= 500", "description": "VIPs"})
    assert put.status_code == 200 and put.json()["name"] == "big_spenders"
    bad = client.put("/v1/segments/broken", headers=ADMIN, json={"condition": "profile.x >"})
    assert bad.status_code == 422
    assert client.put("/v1/segments/Bad-Name", headers=ADMIN, json={"condition": "true"}
                      ).status_code == 422  # fmt: skip
    size = client.get("/v1/segments/big_spenders/size", headers=ADMIN).json()
    assert (size["estimate"], size["profiles"], size["exact"]) == (10, 50, True)
    sampled = client.get("/v1/segments/big_spenders/size?sample_size=20", headers=ADMIN).json()
    assert not sampled["exact"] and sampled["sampled"] == 20
    assert sampled["low"] <= sampled["estimate"] <= sampled["high"]
    assert "estimate from a random sample of 20 of 50 profiles" in sampled["note"]
    assert [s["name"] for s in client.get("/v1/segments", headers=ADMIN).json()] == [
        "big_spenders"
    ]
    assert client.delete("/v1/segments/big_spenders", headers=ADMIN).status_code == 204
    missing = client.get("/v1/segments/big_spenders", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["title"] == "Segment not found"
