"""The bundled demo pool is complete enough to drive every situation the service knows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from content_pool.expressions import compile_expression, names_used
from content_pool.models import CHANNELS, MOMENTS, PHASES
from content_pool.render import Renderer
from content_pool.yaml_io import load_dir
from intent.training import DEFAULT_DATA_PATH, load_training_data

DEMO = Path(__file__).resolve().parents[2] / "content_pool" / "demo"
MAIN_SLOTS = {"hero", "sidebar", "banner", "product_reco", "chat_reply", "email_block"}
CHAT_INTENTS = {"track_order", "return_item", "store_locator", "human_handover", "out_of_scope"}
CATEGORIES = {"hiking", "running", "climbing", "camping", "cycling", "winter", "kids"}


def test_size_languages_slots_and_channels() -> None:
    items = load_dir(DEMO)
    assert len(items) >= 150
    languages = Counter(i.language for i in items)
    assert set(languages) == {"de", "en"} and languages["de"] == languages["en"]
    assert MAIN_SLOTS <= {i.slot for i in items}
    assert set(CHANNELS) == {i.channel for i in items}
    assert all(i.status == "live" for i in items)


def test_every_phase_moment_and_category_is_served_in_both_languages() -> None:
    items = load_dir(DEMO)
    for language in ("de", "en"):
        mine = [i for i in items if i.language == language]
        assert set(PHASES) == {p for i in mine for p in i.targeting.phases}, language
        assert set(MOMENTS) == {m for i in mine for m in i.targeting.moments}, language
        assert CATEGORIES <= {c for i in mine for c in i.targeting.categories}, language


def test_every_category_has_an_open_item_in_every_main_slot_and_language() -> None:
    # A visitor on any topic (a search for "wanderschuhe", a tent page) can get topic content in
    # every slot, whatever their phase, moment or lifecycle stage.
    open_items = [i for i in load_dir(DEMO) if i.targeting.is_open]
    served = {(c, i.slot, i.language) for i in open_items for c in i.targeting.categories}
    for category in CATEGORIES:
        for slot in MAIN_SLOTS:
            for language in ("de", "en"):
                assert (category, slot, language) in served


def test_the_chat_answers_an_intent_with_a_reply_for_every_topic() -> None:
    # The chat takes the first reply tagged with the intent by priority, whatever the topic; a
    # topic reply on top would answer everybody's question with one topic.
    items = load_dir(DEMO)
    chat = sorted((i for i in items if i.slot == "chat_reply"), key=lambda i: (-i.priority, i.id))
    for language in ("de", "en"):
        first: dict[str, str] = {}
        for item in (i for i in chat if i.language == language):
            for tag in item.tags:
                if tag.startswith("intent:") and tag not in first:
                    first[tag] = item.id
                    assert not item.targeting.categories, (tag, item.id)


def test_every_placement_has_exactly_one_open_default() -> None:
    items = load_dir(DEMO)
    placements = {(i.slot, i.channel, i.language) for i in items}
    defaults = Counter((i.slot, i.channel, i.language) for i in items if i.is_default)
    assert placements == set(defaults)
    assert set(defaults.values()) == {1}
    for slot in {i.slot for i in items}:
        for language in ("de", "en"):
            assert (slot, language) in {(s, lang) for s, _, lang in defaults}


def test_chat_replies_are_tagged_with_their_intents() -> None:
    items = load_dir(DEMO)
    for language in ("de", "en"):
        tags = {t for i in items if i.slot == "chat_reply" and i.language == language
                for t in i.tags}  # fmt: skip
        intents = {t.removeprefix("intent:") for t in tags if t.startswith("intent:")}
        assert CHAT_INTENTS <= intents, language
    # Every intent tag names an intent of the default catalogue, or one of the chat's own turns.
    catalogue = set(load_training_data([DEFAULT_DATA_PATH]).catalog) | {
        "greeting", "out_of_scope", "human_handover"}
    chat = [i for i in items if i.slot == "chat_reply"]
    for item in chat:
        named = {t.removeprefix("intent:") for t in item.tags if t.startswith("intent:")}
        assert named and named <= catalogue, (item.id, named - catalogue)


def test_every_template_passes_the_sandbox_and_has_real_copy() -> None:
    items = load_dir(DEMO)
    renderer = Renderer()
    renderer.validate_all(items)
    for item in items:
        text = renderer.render(item, situation={"language": item.language})
        assert len(text) > 40, item.id
        assert "lorem" not in text.lower(), item.id


def test_audience_conditions_read_only_documented_context_keys() -> None:
    documented = {
        "device", "source", "language", "country", "daypart", "weekday", "returning",
        "phase", "moment", "intent", "profile", "situation",
    }  # fmt: skip
    conditions = [i.targeting.audience for i in load_dir(DEMO) if i.targeting.audience]
    assert conditions
    for source in conditions:
        roots = {path.split(".")[0] for path in names_used(compile_expression(source))}
        assert roots <= documented, source


def test_demo_conditions_select_the_visitors_they_are_written_for() -> None:
    items = {i.id: i for i in load_dir(DEMO)}
    climbing = compile_expression(items["reco-climbing-starter-de"].targeting.audience or "")
    assert climbing.matches({"source": {"term": "Kletterschuhe Anfänger"}})
    assert climbing.matches({"profile": {"affinities": {"climbing": 0.5}}})
    assert not climbing.matches({"source": {"term": "zelt"}, "profile": {}})
    stores = compile_expression(items["sidebar-store-finder-en"].targeting.audience or "")
    assert stores.matches({"device": {"type": "mobile"}})
    assert not stores.matches({"device": {"type": "desktop"}})


def test_web_items_for_after_the_purchase_reach_customers_only() -> None:
    # A visit whose phase is unknown is not excluded by a phase: an after-purchase page item
    # must also name the customer stages, or an anonymous visitor gets "set up your new tent".
    for item in load_dir(DEMO):
        if item.channel == "web" and item.targeting.phases == ["use"]:
            stages = set(item.targeting.lifecycle_stages)
            assert stages and not stages & {"anonymous", "prospect"}, item.id
