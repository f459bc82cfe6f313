"""The public site key reveals and changes no one's data (a real Kairos over HTTP, on Redis).

Real customers are seeded through the server and admin keys (names, attributes, lifecycle, cart,
consents). Then, with the site key alone, 1,000 other people's ids (the seeded ones among them)
are sent to every public route as ``profile_id`` and as ``anonymous_id``: no answer contains a
byte of their data, and their stored profiles (the admin export: profile, events, records) are
exactly as before. Identity tokens that prove nothing are refused with what to do; a valid one
gets its own person their personal content. CORS grants only the configured origins.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from personalization.profiles.browser_events import BEHAVIOUR
from personalization.profiles.events import EVENT_TYPES
from tests.http_servers import wait_ready
from tests.redis_servers import free_port
from tests.service.apps import (
    ADMIN,
    ADMIN_KEY,
    DEMO_CONTENT,
    IDENTITY_SECRET,
    SERVER,
    SERVER_KEY,
    SITE,
    SITE_KEY,
    as_person,
    drop_prefix,
    identity_token,
)

SHOP = "https://shop.example"
ROOT = Path(__file__).resolve().parents[2]
MODEL_CACHE = ROOT / ".cache" / "intent-models-hashing"
PEOPLE = 1000
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/130.0.0.0 Safari/537.36")


@dataclass(frozen=True)
class Customer:
    profile_id: str
    first_name: str
    birthday: str
    cart_item: str
    cart_product: str
    order_id: str

    @property
    def secrets(self) -> list[str]:
        """Every value of theirs that must never appear in an answer to someone else."""
        return [self.first_name, self.birthday, self.cart_item, self.cart_product, self.order_id]


CUSTOMERS = [
    Customer("cust-4004", "Dorabelle", "1987-03-14", "Gipfelzelt Qx7", "sku-qx7-4004", "ord-4004"),
    Customer("ada@example.org", "Adalind", "1990-11-02", "Firnjacke Zr9", "sku-zr9-ada", "ord-ada"),
    Customer("C-0042", "Quirinus", "1975-06-30", "Seilsack Vw3", "sku-vw3-0042", "ord-0042"),
]


def _seed_events(c: Customer) -> list[dict[str, Any]]:
    p = c.profile_id
    return [
        {"event_id": f"seed-a-{p}", "type": "profile_update", "profile_id": p,
         "properties": {"first_name": c.first_name, "birthday": c.birthday, "country": "DE",
                        "language": "de"}},
        {"event_id": f"seed-c-{p}", "type": "consent_update", "profile_id": p,
         "properties": {"consents": {"personalisation": True, "email": True}}},
        {"event_id": f"seed-o-{p}", "type": "purchase", "profile_id": p,
         "properties": {"order_id": c.order_id, "value": 189.0, "currency": "EUR",
                        "items": [{"product_id": "sku-boots", "category": "wandern"}]}},
        {"event_id": f"seed-v-{p}", "type": "product_view", "profile_id": p,
         "properties": {"product_id": c.cart_product, "name": c.cart_item,
                        "category": "zelte"}},
        {"event_id": f"seed-k-{p}", "type": "add_to_cart", "profile_id": p,
         "properties": {"product_id": c.cart_product, "name": c.cart_item, "category": "zelte",
                        "price": 349.0, "currency": "EUR"}},
    ]


def _any_event(kind: str, event_id: str, **who: str) -> dict[str, Any]:
    """A valid event of type ``kind``, as an attacker would send it about someone."""
    properties: dict[str, Any] = {
        "page_view": {"url": "https://shop.example/zelte", "category": "zelte"},
        "product_view": {"product_id": "sku-evil", "name": "Evil", "category": "zelte"},
        "search": {"query": "zelt"},
        "add_to_cart": {"product_id": "sku-evil", "name": "Evil", "price": 1.0},
        "remove_from_cart": {"product_id": "sku-x"},
        "checkout_started": {"value": 99999.0, "currency": "EUR"},
        "purchase": {"order_id": "evil", "value": 99999.0, "currency": "EUR",
                     "items": [{"product_id": "sku-evil", "category": "zelte"}]},
        "email_open": {"campaign_id": "c1"}, "email_click": {"campaign_id": "c1"},
        "sms_click": {"campaign_id": "c1"}, "push_open": {"campaign_id": "c1"},
        "chat_message": {"topics": ["zelte"]}, "newsletter_signup": {"list_id": "news"},
        "account_created": {"attributes": {"first_name": "Mallory"}},
        "login": {"method": "password"},
        "consent_update": {"consents": {"personalisation": False, "email": False}},
        "profile_update": {"first_name": "Mallory", "country": "FR"},
        "custom": {"category": "zelte", "data": {"x": 1}},
    }[kind]
    event: dict[str, Any] = {"event_id": event_id, "type": kind, "properties": properties, **who}
    if kind == "custom":
        event["name"] = "hijack"
    return event


@pytest.fixture(scope="module")
def kairos(redis_url: str) -> Iterator[str]:
    """``kairos serve`` in its own process (on its own core), on Redis, with the demo content."""
    prefix = f"ab{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {**os.environ, "KAIROS_REDIS_URL": redis_url, "KAIROS_REDIS_PREFIX": prefix,
           "KAIROS_SITE_KEY": SITE_KEY, "KAIROS_SERVER_KEY": SERVER_KEY,
           "KAIROS_ADMIN_KEY": ADMIN_KEY, "KAIROS_IDENTITY_SECRET": IDENTITY_SECRET,
           "KAIROS_CONTENT_DIR": str(DEMO_CONTENT), "KAIROS_HOLDOUT_SHARE": "0",
           "KAIROS_INTENT_ENCODER": "hashing", "KAIROS_INTENT_MODEL_DIR": str(MODEL_CACHE),
           "KAIROS_REACTIONS": "inline", "KAIROS_SITE_ORIGINS": f'["{SHOP}"]',
           "KAIROS_SITE_RATE_LIMIT_PER_MINUTE": "1000000", "KAIROS_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, timeout=120, gone=lambda: None if server.poll() is None
                   else server.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
        _seed(base)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        drop_prefix(redis_url, prefix)


def _seed(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        events = [e for c in CUSTOMERS for e in _seed_events(c)]
        receipt = http.post("/v1/events", json={"events": events}, headers=SERVER).json()
        assert receipt["complete"], receipt
        for c in CUSTOMERS:  # a known, consenting customer with a cart and a lifecycle stage
            profile = http.get(f"/v1/profiles/{c.profile_id}", headers=ADMIN).json()
            assert profile["anonymous"] is False and profile["lifecycle"]["stage"] != "anonymous"


def _exports(http: httpx.Client) -> dict[str, Any]:
    """Everything stored about each seeded customer (but the moment of the export)."""
    exports = {}
    for c in CUSTOMERS:
        export = http.get(f"/v1/profiles/{c.profile_id}/export", headers=ADMIN).json()
        export.pop("exported_at")
        exports[c.profile_id] = export
    return exports


def _ids(seed: int) -> list[str]:
    rng = random.Random(seed)
    others = [f"cust-{rng.randrange(10**6)}" if i % 2 else f"u{rng.randrange(10**6)}@mail.example"
              for i in range(PEOPLE * 2)]
    return list(dict.fromkeys([c.profile_id for c in CUSTOMERS] + others))[:PEOPLE]


def _leaks(text: str) -> list[str]:
    return [s for c in CUSTOMERS for s in c.secrets if s in text]


async def _abuse(base: str, ids: list[str]) -> dict[str, Any]:
    """Every public route with every id, as profile_id and as anonymous_id, with the site key."""
    limits = httpx.Limits(max_connections=8)
    statuses: dict[str, set[int]] = {}
    leaks: list[str] = []
    lifecycles: set[str] = set()
    gate = asyncio.Semaphore(8)
    site = {**SITE, "User-Agent": BROWSER}
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:

        async def call(name: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
            async with gate:
                answer = await http.request(method, url, headers=site, **kwargs)
            statuses.setdefault(name, set()).add(answer.status_code)
            leaks.extend(f"{name}: {s}" for s in _leaks(answer.text))
            if name == "decide anonymous" and answer.status_code == 200:
                lifecycles.add(answer.json()["lifecycle"])
            return answer

        slots = ["hero", "banner"]  # where the demo content greets by name and recalls carts
        calls = []
        for n, pid in enumerate(ids):
            session = f"s-abuse-{n}"
            calls += [
                call("decide profile_id", "POST", "/v1/decide",
                     json={"session_id": session, "profile_id": pid, "slots": slots}),
                call("decide anonymous", "POST", "/v1/decide",
                     json={"session_id": session, "anonymous_id": pid, "slots": slots}),
                call("blocks profile_id", "GET", "/v1/blocks/banner",
                     params={"profile_id": pid, "session_id": session}),
                call("chat profile_id", "POST", "/v1/chat",
                     json={"session_id": session, "profile_id": pid, "message": "Hallo"}),
            ]
            if n % 5 == 0 or n < len(CUSTOMERS):  # the same decision as a fragment: a sample
                calls.append(call("blocks anonymous", "GET", "/v1/blocks/hero",
                                  params={"anonymous_id": pid, "session_id": session}))
        # a chat turn, situation and intent without an id cannot name anyone either
        calls += [call("chat", "POST", "/v1/chat", json={"session_id": "s-abuse-chat",
                                                         "message": "Wo ist meine Bestellung?"}),
                  call("situation", "POST", "/v1/situation", json={"context": {}}),
                  call("intent", "POST", "/v1/intent", json={"text": "zelt kaufen"})]
        decisions = await asyncio.gather(*calls)
        chosen = [(a.json()["decision_id"], items[0]["item_id"]) for a in decisions
                  if a.status_code == 200 and a.request.url.path == "/v1/decide"
                  for items in a.json()["slots"].values() if items][:50]
        for decision_id, item_id in chosen:
            for event in ("impression", "click", "conversion"):
                await call("feedback", "POST", "/v1/feedback", json={
                    "decision_id": decision_id, "item_id": item_id, "event": event, "value": 9.0})

        events = []
        for n, pid in enumerate(ids):
            events += [_any_event(kind, f"x-{n}-{kind}", profile_id=pid) for kind in EVENT_TYPES]
            events += [_any_event(kind, f"y-{n}-{kind}", anonymous_id=pid)
                       for kind in EVENT_TYPES]
        receipts = [(await call("events", "POST", "/v1/events", json={"events": events[i:i + 500]}))
                    for i in range(0, len(events), 500)]
    return {"statuses": statuses, "leaks": leaks, "lifecycles": lifecycles,
            "events": events, "receipts": [r.json() for r in receipts]}


def test_a_thousand_other_peoples_ids_reveal_and_change_nothing(kairos: str) -> None:
    ids = _ids(seed=4004)
    assert len(ids) == PEOPLE and {c.profile_id for c in CUSTOMERS} <= set(ids)
    with httpx.Client(base_url=kairos, timeout=30) as http:
        before = _exports(http)
        result = asyncio.run(_abuse(kairos, ids))
        after = _exports(http)

    assert result["leaks"] == []
    assert after == before  # profile, events and records of every seeded customer unchanged
    statuses = result["statuses"]
    for route in ("decide profile_id", "blocks profile_id", "chat profile_id"):
        assert statuses[route] == {403}, (route, statuses[route])
    assert statuses["decide anonymous"] == {200}
    assert statuses["blocks anonymous"] <= {200, 204}
    assert statuses["feedback"] <= {202} and statuses["chat"] == {200}
    assert result["lifecycles"] == {"anonymous"}

    # events: only behavioural ones about an anonymous visitor who is nobody known got in
    accepted = {i for r in result["receipts"] for i in r["accepted"]}
    allowed = {e["event_id"] for e in result["events"] if "anonymous_id" in e
               and e["type"] in BEHAVIOUR and e["anonymous_id"] not in before}
    assert accepted == allowed
    reasons = [r["reason"] for rec in result["receipts"] for r in rec["rejected"]]
    assert len(reasons) == len(result["events"]) - len(allowed)
    assert all(reason.startswith("not allowed with the site key") for reason in reasons)
    assert any("names a known customer" in reason for reason in reasons)
    assert any("'purchase' needs the server key" in reason for reason in reasons)


def test_unproven_identity_tokens_are_refused_with_what_to_do(kairos: str) -> None:
    dora = CUSTOMERS[0].profile_id
    body = {"session_id": "s-token", "slots": ["banner"]}
    cases = {
        "forged": identity_token(dora, secret="not-the-identity-secret-of-kairos"),
        "expired": identity_token(dora, ttl=-5),
        "too_long_lived": identity_token(dora, ttl=30 * 24 * 3600),
        "malformed": "v1.not-a-token",
    }
    with httpx.Client(base_url=kairos, timeout=30) as http:
        for kind, token in cases.items():
            answer = http.post("/v1/decide", json=body,
                               headers={**SITE, "X-Kairos-Identity": token})
            assert answer.status_code == 401, kind
            assert answer.headers["content-type"] == "application/problem+json"
            assert f"refused ({kind})" in answer.json()["detail"]
            assert "Identity from the browser" in answer.json()["detail"]
            assert not _leaks(answer.text)
        # a valid token of Dora replayed for Adalind
        replayed = http.post("/v1/decide", json=body | {"profile_id": CUSTOMERS[1].profile_id},
                             headers=as_person(dora))
        assert replayed.status_code == 403
        assert "not the person of the X-Kairos-Identity" in replayed.json()["detail"]
        assert not _leaks(replayed.text)
        events = http.post("/v1/events", headers=as_person(dora), json={"events": [
            _any_event("page_view", "r-1", profile_id=CUSTOMERS[1].profile_id),
            _any_event("consent_update", "r-2", profile_id=CUSTOMERS[1].profile_id)]})
        assert events.status_code == 422
        assert all("not the person" in e["reason"] for e in events.json()["errors"])


def test_a_valid_identity_gets_its_own_person_their_content(kairos: str) -> None:
    dora = CUSTOMERS[0]
    with httpx.Client(base_url=kairos, timeout=30) as http:
        before = http.get(f"/v1/profiles/{dora.profile_id}", headers=ADMIN).json()
        decision = http.post("/v1/decide", headers={**as_person(dora.profile_id),
                                                    "User-Agent": BROWSER},
                             json={"session_id": "s-dora", "slots": ["hero", "banner"],
                                   "items_per_slot": 10})
        assert decision.status_code == 200
        assert decision.json()["lifecycle"] == before["lifecycle"]["stage"] != "anonymous"
        assert decision.json()["personalised"] is True
        assert not [s for s in _leaks(decision.text) if s not in dora.secrets]
        # with profile_id beside it (the same person), blocks and chat alike
        block = http.get("/v1/blocks/hero", params={"profile_id": dora.profile_id},
                         headers={**as_person(dora.profile_id), "User-Agent": BROWSER})
        assert block.status_code in (200, 204) and not _leaks(block.text.replace(
            dora.first_name, ""))
        chat = http.post("/v1/chat", headers=as_person(dora.profile_id),
                         json={"session_id": "s-dora-chat", "message": "Hallo"})
        # her own name, greeting her
        assert chat.status_code == 200 and dora.first_name in chat.json()["reply"]["text"]
        # her browser reports behaviour and changes her own consent; not her purchases
        receipt = http.post("/v1/events", headers=as_person(dora.profile_id), json={"events": [
            _any_event("product_view", "d-1", profile_id=dora.profile_id),
            _any_event("consent_update", "d-2", profile_id=dora.profile_id),
            _any_event("purchase", "d-3", profile_id=dora.profile_id),
            _any_event("login", "d-4", profile_id=dora.profile_id, anonymous_id="aid-dora-1"),
        ]}).json()
        assert receipt["accepted"] == ["d-1", "d-2", "d-4"] and not receipt["complete"]
        assert [r["index"] for r in receipt["rejected"]] == [2]
        after = http.get(f"/v1/profiles/{dora.profile_id}", headers=ADMIN).json()
        assert after["consent"]["personalisation"]["granted"] is False


def test_only_configured_origins_get_a_cors_grant(kairos: str) -> None:
    with httpx.Client(base_url=kairos, timeout=30) as http:
        for origin, granted in ((SHOP, True), ("https://evil.example", False)):
            preflight = http.options("/v1/decide", headers={
                "Origin": origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key,x-kairos-identity,content-type"})
            real = http.post("/v1/situation", json={"context": {}},
                             headers={**SITE, "Origin": origin})
            for answer in (preflight, real):
                assert (answer.headers.get("access-control-allow-origin") == origin) is granted
                assert answer.headers.get("access-control-allow-origin") != "*"
            if granted:
                assert "x-kairos-identity" in preflight.headers[
                    "access-control-allow-headers"].lower()
