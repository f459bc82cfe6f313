"""Scripted chat conversations through ``POST /v1/chat``, end to end (intent model with the
deterministic hashing encoder, the demo content pool, the decider and automation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.service.apps import ADMIN, DEMO_CONTENT, SERVER, SITE, as_person

MODEL_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "intent-models-hashing"


# The app builds the intent model (hashing encoder) from these settings, cached per machine.
APP_SETTINGS = {"holdout_share": 0, "intent_encoder": "hashing", "intent_model_dir": MODEL_CACHE,
                "content_dir": DEMO_CONTENT}


def _say(client: TestClient, session: str, message: str, **extra: Any) -> dict[str, Any]:
    # A chat widget on a German page sends its visitor's languages, like the browser does.
    extra.setdefault("context", {"accept_language": "de-DE,de;q=0.9,en;q=0.5"})
    response = client.post(
        "/v1/chat",
        json={"session_id": session, "message": message, "channel": "chat", **extra},
        # a visitor's profile_id comes with the identity the shop signed for them
        headers=as_person(extra["profile_id"]) if "profile_id" in extra else SITE,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_german_conversation(client: TestClient) -> None:
    session = "de-conversation-1"

    hello = _say(client, session, "Hallo!")
    assert hello["intent"] == "greeting"
    assert hello["reply"]["item_id"] == "chat-greeting-de"
    assert hello["decision_id"]

    price = _say(client, session, "Was kostet die Jacke?")
    assert (price["intent"], price["phase"], price["moment"]) == (
        "price_inquiry", "consider", "know",
    )  # fmt: skip
    assert price["entities"] == {"category": "jacket"}
    assert price["reply"]["item_id"].endswith("-de")

    red = _say(client, session, "und in Rot?")
    assert red["inherited"] is True
    assert red["intent"] == "price_inquiry" and red["out_of_scope"] is False
    assert red["entities"] == {"category": "jacket", "colour": "red"}
    assert any("follow-up" in reason for reason in red["reasons"])

    weather = _say(client, session, "Wie ist das Wetter morgen?")
    assert weather["out_of_scope"] is True
    assert weather["reply"]["item_id"] == "chat-out-of-scope-de"
    assert weather["next_action"] is None

    parcel = _say(client, session, "Wo ist mein Paket?")
    assert (parcel["intent"], parcel["moment"]) == ("track_order", "service")
    assert parcel["reply"]["item_id"] == "chat-track-order-de"
    assert "Bestellnummer" in parcel["reply"]["text"]

    number = _say(client, session, "Meine Bestellnummer ist BF123456")
    assert number["intent"] == "track_order"
    assert number["entities"]["order_id"] == "BF123456"

    broken = _say(client, session, "Der Reißverschluss ist nach einer Woche kaputt")
    assert (broken["intent"], broken["moment"]) == ("defective_product", "problem")
    assert broken["next_action"] is None or broken["next_action"]["type"] != "human_handover"

    again = _say(client, session, "Und wieder kaputt!")
    assert again["inherited"] is True and again["moment"] == "problem"
    action = again["next_action"]
    assert action is not None and action["type"] == "human_handover"
    assert any("problem moment 2" in reason for reason in action["reasons"])
    assert again["reply"]["item_id"] == "chat-human-handover-de"
    assert again["quick_replies"] == []


def test_english_conversation_of_a_known_person(client: TestClient) -> None:
    session, person = "en-conversation-1", "p-chat-en"
    english = {"accept_language": "en-GB,en;q=0.9"}

    hello = _say(client, session, "Hi there", profile_id=person, context=english)
    assert hello["intent"] == "greeting"
    assert hello["reply"]["item_id"] == "chat-greeting-en"

    boots = _say(
        client, session, "I'm looking for hiking boots", profile_id=person, context=english
    )
    assert (boots["intent"], boots["phase"]) == ("product_search", "consider")
    assert boots["entities"] == {"category": "hiking_boots"}
    assert boots["reply"]["item_id"] == "chat-product-advice-en"

    black = _say(client, session, "and in black?", profile_id=person, context=english)
    assert black["inherited"] is True and black["intent"] == "product_search"
    assert black["entities"] == {"category": "hiking_boots", "colour": "black"}

    returns = _say(client, session, "what about returns?", profile_id=person, context=english)
    assert returns["inherited"] is False
    assert (returns["intent"], returns["phase"]) == ("return_item", "use")
    assert returns["reply"]["item_id"] == "chat-return-item-en"
    assert "60 days" in returns["reply"]["text"]

    off_topic = _say(
        client, session, "What's the capital of France?", profile_id=person, context=english
    )
    assert off_topic["out_of_scope"] is True
    assert off_topic["reply"]["item_id"] == "chat-out-of-scope-en"

    human = _say(client, session, "I want to talk to a human", profile_id=person, context=english)
    assert human["intent"] == "human_agent"
    assert human["next_action"]["type"] == "human_handover"
    assert human["next_action"]["channel"] == "chat"
    assert human["reply"]["item_id"] == "chat-human-handover-en"


def test_conversations_are_kept_apart(client: TestClient) -> None:
    _say(client, "session-a", "Was kostet die Jacke?")
    other = _say(client, "session-b", "und in Rot?")
    assert other["inherited"] is False
    assert other["intent"] != "price_inquiry"  # nothing of session-a carried over


def test_chat_needs_the_site_key(client: TestClient) -> None:
    response = client.post("/v1/chat", json={"session_id": "s", "message": "Hallo"})
    assert response.status_code == 401


def test_erasing_the_person_forgets_the_conversation(client: TestClient) -> None:
    session, person = "en-erase-1", "p-chat-erase"
    english = {"accept_language": "en-GB,en;q=0.9"}
    _say(client, session, "I'm looking for hiking boots", profile_id=person, context=english)
    erased = client.delete(f"/v1/profiles/{person}", headers=ADMIN)
    assert erased.status_code == 204, erased.text
    after = _say(client, session, "and in black?", profile_id=person, context=english)
    assert after["inherited"] is False
    assert after["entities"] == {"colour": "black"}


def test_a_consenting_persons_first_name_only(client: TestClient) -> None:
    admin = ADMIN
    english = {"accept_language": "en-GB,en;q=0.9"}
    for person, consent in (("p-chat-yes", True), ("p-chat-no", False)):
        seen = client.post("/v1/events", headers=SERVER, json={
            "event_id": f"login-{person}", "type": "login", "profile_id": person,
        })  # fmt: skip
        assert seen.status_code == 200, seen.text
        patched = client.patch(f"/v1/profiles/{person}", headers=admin, json={
            "attributes": {"first_name": "Alex"}, "consents": {"personalisation": consent},
        })  # fmt: skip
        assert patched.status_code == 200, patched.text
    greeted = _say(client, "s-yes", "Hi there", profile_id="p-chat-yes", context=english)
    assert greeted["reply"]["text"].startswith("Hi Alex!")
    anonymous = _say(client, "s-no", "Hi there", profile_id="p-chat-no", context=english)
    assert anonymous["reply"]["text"].startswith("Hi!")
    assert "Alex" not in anonymous["reply"]["text"]


def test_every_reply_is_the_decision_so_feedback_on_it_counts(client: TestClient) -> None:
    for message in ("Hallo!", "Wo ist mein Paket?", "Wie ist das Wetter morgen?"):
        answer = _say(client, "s-feedback", message)
        assert answer["reply"]["in_decision"] is True
        feedback = client.post("/v1/feedback", headers=SITE, json={
            "decision_id": answer["decision_id"], "item_id": answer["reply"]["item_id"],
            "event": "click",
        })  # fmt: skip
        assert feedback.status_code == 202, feedback.text
        assert feedback.json()["duplicate"] is False
