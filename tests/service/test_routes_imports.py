"""The streamed import routes: idempotent uploads, rejections, limits."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, INTEGRATION, SITE_KEY, AppClient, crm_rows

APP_SETTINGS = INTEGRATION


def test_a_streamed_profile_upload_is_imported_once(client: TestClient) -> None:
    first = client.post("/v1/imports/profiles", content=crm_rows(1200),
                        headers={**ADMIN, "Content-Type": "text/csv"})  # fmt: skip
    assert first.status_code == 200, first.text
    assert {k: first.json()[k] for k in ("read", "created", "updated", "skipped", "rejected")} == {
        "read": 1200, "created": 1200, "updated": 0, "skipped": 0, "rejected": 0
    }
    again = client.post("/v1/imports/profiles?format=csv", content=crm_rows(1200), headers=ADMIN)
    assert (again.json()["created"], again.json()["skipped"]) == (0, 1200)
    profile = client.get("/v1/profiles/C7", headers=ADMIN).json()
    assert profile["known"]["first_name"] == "Name7"


def test_import_rejections_name_line_and_reason(client: TestClient) -> None:
    body = (b'{"order_id": "A1", "customer_id": "C1", "ordered_at": "2026-01-02T10:00:00Z", '
            b'"total": 20, "category": "boots"}\n'
            b'{"order_id": "A2", "customer_id": "C1", "total": 20, "category": "boots"}\n'
            b"garbage\n")  # fmt: skip
    result = client.post("/v1/imports/events", content=body,
                         headers={**ADMIN, "Content-Type": "application/x-ndjson"}).json()
    assert (result["created"], result["rejected"]) == (1, 2)
    assert [(r["line"], r["id"]) for r in result["rejections"]] == [(2, "A2"), (3, None)]
    assert "ordered_at is missing" in result["rejections"][0]["reason"]


def test_imports_need_the_admin_key_and_a_format(client: TestClient) -> None:
    site = {"X-API-Key": SITE_KEY}
    assert client.post("/v1/imports/profiles?format=csv", content=b"x", headers=site
                       ).status_code == 403  # fmt: skip
    missing = client.post("/v1/imports/profiles", content=b"customer_id\nC1\n", headers=ADMIN)
    assert missing.status_code == 415 and "format=csv" in missing.json()["detail"]


def test_an_upload_over_the_import_limit_is_refused(app_client: AppClient) -> None:
    client = app_client(max_body_bytes=50_000_000, max_import_bytes=10_000)
    response = client.post("/v1/imports/profiles?format=csv", content=crm_rows(2000),
                           headers=ADMIN)  # fmt: skip
    assert response.status_code == 413


def test_uploads_may_exceed_the_general_body_limit_up_to_the_import_limit(
    app_client: AppClient,
) -> None:
    rows = b"".join(crm_rows(2000))
    assert len(rows) > 4096
    client = app_client(max_body_bytes=4096, max_import_bytes=10_000_000)
    imported = client.post("/v1/imports/profiles?format=csv", content=rows, headers=ADMIN)
    other = client.post("/v1/events", content=b"[" + b" " * 5000 + b"]",
                        headers={"X-API-Key": SITE_KEY, "Content-Type": "application/json"})
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 2000
    assert other.status_code == 413
