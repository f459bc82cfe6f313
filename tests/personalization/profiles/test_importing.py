"""Importing CRM profiles and shop orders: idempotent re-runs, rejections with lines, streaming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from personalization.clock import FrozenClock
from personalization.profiles.document import from_document
from personalization.profiles.event_parsing import parse_event
from personalization.profiles.events import Purpose
from personalization.profiles.importing import Importer, format_of
from personalization.profiles.profile import ProfilePolicy
from personalization.profiles.service import ProfileService
from personalization.profiles.tabular import Rejection
from tests.conftest import Backend
from tests.factories import make_store

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)

CRM = """\
customer_id,email,first_name,last_name,birthday,postcode,language,country,consent_email,consent_personalisation,created_at,loyalty_tier
C-1001,ada@example.com,Ada,Lovelace,1985-12-10,80331,de-DE,DE,yes,true,2024-03-01T10:00:00Z,gold
C-1002,bob@example.com,Bob,Builder,02.05.1990,10115,en,GB,no,,2024-03-02,silver
,nobody@example.com,No,Id,,,,,,,,
C-1003,cy@example.com,Cy,"Multi
Line",1970-13-40,,de,DE,,,,
C-1004,di@example.com,Di,Short
C-1005,eve@example.com,Eve,E,,01067,de,DE,vielleicht,,,
C-1006,fay@example.com,Fay,F,,,,,1,1,,
"""

ORDERS = """\
order_id;customer_id;ordered_at;total;currency;category;status
O-1;C-1001;2025-11-02T14:31:00+01:00;129,90;EUR;boots;paid
O-2;C-1001;2025-12-01 09:00;1.299,00;EUR;tents|camping;paid
O-3;C-1002;03.01.2026;19,99;;socks;cancelled
O-4;C-9999;2026-01-05;abc;EUR;socks;paid
O-5;C-1003;2026-01-06;10;EUR;;paid
O-6;C-1003;;10;EUR;socks;paid
"""


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def importer(store: Any, clock: FrozenClock) -> Importer:
    return Importer(store, policy=ProfilePolicy(), clock=clock, batch_size=3)


async def test_profiles_import_creates_reports_and_rerun_changes_nothing(backend: Backend) -> None:
    clock = FrozenClock(T0)
    store = make_store(backend, clock=clock)
    rejected: list[Rejection] = []
    summary = await importer(store, clock).run(
        "profiles", chunks(CRM.encode()), "csv", on_rejection=rejected.append
    )
    assert (summary.read, summary.created, summary.updated, summary.skipped) == (7, 3, 0, 0)
    assert summary.rejected == 4 and summary.rejections == rejected
    by_line = {r.line: r for r in rejected}
    assert by_line[4].reason == "customer_id is missing"
    assert by_line[5].id == "C-1003" and "birthday '1970-13-40'" in by_line[5].reason
    assert by_line[7].reason == "4 fields, the header has 12"  # line 7: after the 2-line record
    assert "consent_email 'vielleicht' is not yes/no" in by_line[8].reason
    assert summary.ignored_columns == ["email", "last_name", "loyalty_tier"]

    ada = from_document(await store.get("C-1001") or {})
    assert ada.known.first_name == "Ada" and ada.known.language == "de"
    assert ada.known.region == "80" and str(ada.known.birthday) == "1985-12-10"
    assert ada.consent[Purpose.email].granted and ada.consent[Purpose.email].source == "import"
    assert not from_document(await store.get("C-1002") or {}).consent[Purpose.email].granted
    stored = orjson.dumps([await store.get("C-1001"), await store.events("C-1001")]).decode()
    assert "ada@example.com" not in stored and "Lovelace" not in stored

    before = {pid: await store.get(pid) for pid in ("C-1001", "C-1002", "C-1006")}
    again = await importer(store, clock).run("profiles", chunks(CRM.encode(), 64), "csv")
    assert (again.created, again.updated, again.skipped, again.rejected) == (0, 0, 3, 4)
    assert {pid: await store.get(pid) for pid in before} == before

    changed = CRM.replace("C-1002,bob@example.com,Bob,", "C-1002,bob@example.com,Robert,")
    third = await importer(store, clock).run("profiles", chunks(changed.encode()), "csv")
    assert (third.created, third.updated, third.skipped) == (0, 1, 2)
    assert from_document(await store.get("C-1002") or {}).known.first_name == "Robert"


async def test_orders_become_purchases_once_even_when_also_sent_live(backend: Backend) -> None:
    clock = FrozenClock(T0)
    store = make_store(backend, clock=clock)
    summary = await importer(store, clock).run("events", chunks(ORDERS.encode(), 5), "csv")
    assert (summary.read, summary.created, summary.updated) == (6, 1, 1)
    assert summary.skipped == 1  # the cancelled order
    reasons = {r.line: r.reason for r in summary.rejections}
    assert reasons == {
        5: "total 'abc' is not a number",
        6: "no items and no category: an order needs at least one category",
        7: "ordered_at is missing: an order without a time would count as today",
    }
    ada = from_document(await store.get("C-1001") or {})
    assert ada.rfm.orders == 2 and ada.rfm.revenue == pytest.approx(1428.90)
    assert ada.rfm.last_order_categories == ["tents", "camping"]
    assert ada.rfm.last_order_at == datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
    assert await store.get("C-1002") is None

    rerun = await importer(store, clock).run("events", chunks(ORDERS.encode()), "csv")
    assert (rerun.created, rerun.updated, rerun.skipped) == (0, 0, 3)
    live = parse_event({
        "event_id": "order-O-1", "type": "purchase", "profile_id": "C-1001",
        "properties": {"order_id": "O-1", "value": 129.9, "currency": "EUR",
                       "items": [{"product_id": "x", "category": "boots"}]},
    })  # fmt: skip
    report = await ProfileService(store, clock=clock).ingest([live])
    assert report.duplicates == ["order-O-1"]
    assert from_document(await store.get("C-1001") or {}).rfm.orders == 2


async def test_json_lines_profiles_and_events() -> None:
    from personalization.store.memory_store import MemoryStore

    clock = FrozenClock(T0)
    store = MemoryStore(clock=clock)
    profiles = b"\n".join([
        b'{"customer_id": "J1", "first_name": "Jo", "consents": {"personalisation": true}}',
        b'not json',
        b'[1, 2]',
        b'',
        b'{"customer_id": "J2", "consents": {"email": "maybe"}}',
    ])  # fmt: skip
    summary = await importer(store, clock).run("profiles", chunks(profiles), "jsonl")
    assert (summary.created, summary.rejected) == (1, 3)
    assert [r.line for r in summary.rejections] == [2, 3, 5]
    assert from_document(await store.get("J1") or {}).consent[Purpose.personalisation].granted
    events = b"\n".join([
        orjson.dumps({"order_id": 7, "customer_id": "J1", "ordered_at": "2026-01-01T10:00:00Z",
                      "total": 50, "items": [{"sku": "S1", "category": "Hiking", "qty": 2}]}),
        orjson.dumps({"event_id": "pv-1", "type": "page_view", "profile_id": "J1",
                      "properties": {"category": "camping"}}),
        orjson.dumps({"event_id": "pv-2", "type": "page_view"}),
    ])  # fmt: skip
    result = await importer(store, clock).run("events", chunks(events), "jsonl")
    assert (result.updated, result.rejected) == (2, 1)
    assert "profile_id is missing" in result.rejections[0].reason
    jo = from_document(await store.get("J1") or {})
    assert jo.rfm.orders == 1 and set(jo.affinities.scores) == {"hiking", "camping"}


def test_formats_follow_the_suffix() -> None:
    assert format_of("crm.CSV") == "csv" and format_of("orders.jsonl") == "jsonl"
    with pytest.raises(ValueError, match="--format"):
        format_of("export.xlsx")
