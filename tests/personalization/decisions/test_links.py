"""Signed newsletter link tokens: issue, verify, tampering, expiry, rotation, URL recognition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from intent.situation.context import ContextInput
from intent.situation.reader import SituationReader
from personalization.decisions.links import TOKEN_PARAM, LinkSigner
from personalization.errors import InvalidLinkRequest

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def signer(**keys: bytes) -> LinkSigner:
    keys = keys or {"k1": b"first-secret-of-32-bytes-000000"}
    return LinkSigner(keys, current=next(iter(keys)))


def test_token_names_the_profile_until_it_expires() -> None:
    s = signer()
    token = s.issue("cust-00042@shop", ttl=timedelta(days=7), now=T0)
    assert s.verify(token, now=T0 + timedelta(days=6, hours=23)) == "cust-00042@shop"
    assert s.verify(token, now=T0 + timedelta(days=7)) is None
    assert s.expires_at(token) == T0 + timedelta(days=7)


def test_token_is_compact_and_url_safe() -> None:
    token = signer().issue("p-1", ttl=timedelta(days=30), now=T0)
    assert len(token) < 60
    assert all(c.isalnum() or c in "-_." for c in token)


@pytest.mark.parametrize("position", range(48))
def test_any_changed_character_is_rejected(position: int) -> None:
    s = signer()
    token = s.issue("p-1", ttl=timedelta(days=30), now=T0)
    position %= len(token)
    replacement = "A" if token[position] != "A" else "B"
    tampered = token[:position] + replacement + token[position + 1 :]
    assert s.verify(tampered, now=T0) is None


def test_swapping_the_profile_or_extending_the_expiry_breaks_the_signature() -> None:
    s = signer()
    key_id, _, expiry, mac = s.issue("alice", ttl=timedelta(days=1), now=T0).split(".")
    _, bob, _, _ = s.issue("bob", ttl=timedelta(days=1), now=T0).split(".")
    assert s.verify(f"{key_id}.{bob}.{expiry}.{mac}", now=T0) is None
    later = int(expiry, 36) + 10**6
    assert s.verify(f"{key_id}.{_b36(later)}.{expiry}.{mac}", now=T0) is None


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "...", "k1...", "k1.!!.zz.??", "x" * 5000, "k1.cA.zz.cA", None, 42, "k9.cA.1.AA"],
)
def test_garbage_never_raises(garbage: object) -> None:
    assert signer().verify(garbage, now=T0) is None


def test_another_secret_does_not_verify() -> None:
    token = signer(k1=b"first-secret-of-32-bytes-000000").issue("p", ttl=timedelta(1), now=T0)
    assert signer(k1=b"other-secret-of-32-bytes-00000").verify(token, now=T0) is None


def test_rotation_keeps_old_tokens_valid_while_new_ones_use_the_new_key() -> None:
    old = LinkSigner({"k1": b"first-secret-of-32-bytes-000000"}, current="k1")
    token = old.issue("p-7", ttl=timedelta(days=30), now=T0)
    rotated = LinkSigner(
        {"k1": b"first-secret-of-32-bytes-000000", "k2": b"second-secret-of-32-bytes-0000"},
        current="k2",
    )
    assert rotated.verify(token, now=T0) == "p-7"
    assert rotated.issue("p-7", ttl=timedelta(days=1), now=T0).startswith("k2.")
    retired = LinkSigner({"k2": b"second-secret-of-32-bytes-0000"}, current="k2")
    assert retired.verify(token, now=T0) is None


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(days=-1), timedelta(days=400)])
def test_issue_refuses_bad_ttls(ttl: timedelta) -> None:
    with pytest.raises(InvalidLinkRequest):
        signer().issue("p", ttl=ttl, now=T0)


@pytest.mark.parametrize("profile_id", ["", "has space", "brace{x}", "x" * 200])
def test_issue_refuses_bad_ids(profile_id: str) -> None:
    with pytest.raises(InvalidLinkRequest):
        signer().issue(profile_id, ttl=timedelta(days=1), now=T0)


def test_a_visit_with_a_valid_token_is_email_and_the_token_leaves_the_url() -> None:
    s = signer()
    token = s.issue("p-42", ttl=timedelta(days=30), now=T0)
    url = f"https://shop.example/jacken?color=red&{TOKEN_PARAM}={token}"
    visit = s.recognise(url, now=T0)
    assert visit.profile_id == "p-42"
    assert visit.url is not None and token not in visit.url
    query = parse_qs(urlsplit(visit.url).query)
    assert query == {"color": ["red"], "utm_medium": ["email"]}
    assert visit.reason and "signed email link" in visit.reason
    situation = SituationReader().read(ContextInput(url=visit.url, referrer=None))
    assert situation.source.medium == "email"


def test_a_link_that_names_its_medium_keeps_it() -> None:
    s = signer()
    token = s.issue("p-42", ttl=timedelta(days=30), now=T0)
    visit = s.recognise(f"https://x.example/?utm_medium=sms&kt={token}", now=T0)
    assert visit.profile_id == "p-42"
    assert parse_qs(urlsplit(visit.url or "").query)["utm_medium"] == ["sms"]


def test_an_expired_or_tampered_token_leaves_the_visit_anonymous_and_is_stripped() -> None:
    s = signer()
    token = s.issue("p-42", ttl=timedelta(days=1), now=T0)
    expired = s.recognise(f"https://x.example/p?kt={token}", now=T0 + timedelta(days=2))
    assert expired.profile_id is None and "kt=" not in (expired.url or "")
    assert "utm_medium" not in (expired.url or "")
    tampered = s.recognise(f"https://x.example/p?kt={token[:-2]}zz", now=T0)
    assert tampered.profile_id is None
    assert tampered.reason == "link token ignored: invalid or expired"


def test_two_tokens_in_one_url_are_ignored() -> None:
    s = signer()
    a = s.issue("a", ttl=timedelta(days=1), now=T0)
    b = s.issue("b", ttl=timedelta(days=1), now=T0)
    assert s.recognise(f"https://x.example/?kt={a}&kt={b}", now=T0).profile_id is None


def test_urls_without_a_token_pass_unchanged() -> None:
    s = signer()
    for url in (None, "", "https://x.example/?q=1", "not a url at all"):
        visit = s.recognise(url, now=T0)
        assert visit.profile_id is None and visit.url == url and visit.reason is None


async def test_a_newsletter_click_gets_an_explicitly_personalised_email_decision() -> None:
    from content_pool.pool import ContentPool
    from content_pool.render import Renderer
    from content_pool.storage import MemoryContentStore
    from personalization.clock import FrozenClock
    from personalization.decisions.decider import ConsentedProfiles, Decider, DeciderParts
    from personalization.decisions.links import identify
    from personalization.decisions.models import DecisionRequest
    from personalization.decisions.policies import make_policy
    from personalization.decisions.ranking import FeatureIndex
    from personalization.profiles.event_parsing import parse_event
    from personalization.profiles.service import ProfileService
    from personalization.store.memory_store import MemoryStore
    from tests.content_pool.factories import make_draft

    clock = FrozenClock(T0)
    store = MemoryStore(clock=clock)
    profiles = ProfileService(store, clock=clock)
    await profiles.ingest([parse_event({
        "event_id": "c1", "type": "consent_update", "profile_id": "p-42",
        "properties": {"consents": {"personalisation": True}},
    })])  # fmt: skip
    content = MemoryContentStore()
    await content.put(make_draft(id="hero-hi", template="<p>hi {{ profile.lifecycle }}</p>"))
    decider = Decider(DeciderParts(
        ContentPool(content), store, renderer=Renderer(), policy=make_policy("greedy"),
        features=FeatureIndex(None), situation_reader=SituationReader(),
        profiles=ConsentedProfiles(profiles, clock=clock),
    ))  # fmt: skip
    await decider.refresh_pool(T0)
    s = signer()
    token = s.issue("p-42", ttl=timedelta(days=30), now=T0)
    asked = DecisionRequest(session_id="s1", slots=["hero"],
                            context=ContextInput(url=f"https://shop.example/?kt={token}"))
    request, visit = identify(s, asked, now=T0)
    assert request.profile_id == "p-42" and visit.reason is not None
    assert request.context.url is not None and token not in request.context.url
    decision = await decider.decide(request, T0)
    assert decision.personalised and decision.situation.medium == "email"

    forged, _ = identify(s, asked.model_copy(update={"context": ContextInput(
        url=f"https://shop.example/?kt={token[:-3]}abc")}), now=T0)  # fmt: skip
    anonymous = await decider.decide(forged, T0)
    assert forged.profile_id is None and not anonymous.personalised
    assert anonymous.situation.medium != "email"
    logged_in, _ = identify(s, asked.model_copy(update={"profile_id": "other"}), now=T0)
    assert logged_in.profile_id == "other"  # a login is stronger than a forwarded mail
    unchanged, none = identify(None, asked, now=T0)
    assert unchanged is asked and none.profile_id is None
