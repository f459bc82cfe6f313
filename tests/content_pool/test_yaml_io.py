"""YAML import/export: round trips, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from content_pool.errors import InvalidContent
from content_pool.yaml_io import dump_dir, load_dir
from tests.content_pool.factories import make_draft

DEMO = Path(__file__).resolve().parents[2] / "content_pool" / "demo"


def test_demo_pool_round_trips(tmp_path: Path) -> None:
    items = load_dir(DEMO)
    written = dump_dir(items, tmp_path / "out")
    again = load_dir(tmp_path / "out")
    assert again == items
    assert {p.name for p in written} == {f"{slot}.yaml" for slot in {i.slot for i in items}}
    # exporting what was imported from an export changes nothing
    dump_dir(again, tmp_path / "second")
    for file in written:
        assert (tmp_path / "second" / file.name).read_text() == file.read_text()


def test_single_item_files_and_items_lists_both_load(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(
        "id: single\ntitle: Eins\nslot: hero\nchannel: web\nlanguage: de\ntemplate: Hallo\n"
    )
    nested = tmp_path / "chat"
    nested.mkdir()
    (nested / "replies.yml").write_text(
        "items:\n"
        "  - {id: r1, title: R1, slot: chat_reply, channel: chat, language: en, template: Hi}\n"
        "  - {id: r2, title: R2, slot: chat_reply, channel: chat, language: en, template: Yo}\n"
    )
    (tmp_path / "notes.txt").write_text("not content")
    assert [i.id for i in load_dir(tmp_path)] == ["r1", "r2", "single"]


def test_errors_name_file_and_field_for_every_problem(tmp_path: Path) -> None:
    (tmp_path / "hero.yaml").write_text(
        "items:\n"
        "  - {id: ok, title: OK, slot: hero, channel: web, language: de, template: x}\n"
        "  - {id: bad, title: B, slot: hero, channel: fax, language: de, template: x,\n"
        "     targeting: {phases: [dreaming]}}\n"
    )
    (tmp_path / "dupe.yaml").write_text(
        "id: ok\ntitle: again\nslot: hero\nchannel: web\nlanguage: de\ntemplate: x\n"
    )
    (tmp_path / "audience.yaml").write_text(
        "id: aud\ntitle: A\nslot: hero\nchannel: web\nlanguage: de\ntemplate: x\n"
        "targeting: {audience: 'device.type = 1'}\n"
    )
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n")
    with pytest.raises(InvalidContent) as caught:
        load_dir(tmp_path)
    fields = {e["field"]: e["message"] for e in caught.value.errors}
    assert "hero.yaml: items.1.channel" in fields
    assert "hero.yaml: items.1.targeting.phases.0" in fields
    assert "audience.yaml:.targeting.audience" in fields
    assert "position 12" in fields["audience.yaml:.targeting.audience"]
    assert fields["hero.yaml: items.0.id"] == "'ok' already in dupe.yaml"
    assert fields["broken.yaml"].startswith("not valid YAML line 2")


def test_a_file_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "mixed.yaml").write_text("items: []\nextra: 1\n")
    with pytest.raises(InvalidContent) as caught:
        load_dir(tmp_path)
    assert [e["field"] for e in caught.value.errors] == ["list.yaml", "mixed.yaml"]


def test_missing_directory() -> None:
    with pytest.raises(FileNotFoundError):
        load_dir("/nonexistent/content")


def test_dump_writes_multiline_templates_as_blocks(tmp_path: Path) -> None:
    draft = make_draft(template="<h1>Hallo</h1>\n<p>Zweite Zeile – mit Ümlaut</p>")
    [file] = dump_dir([draft], tmp_path)
    text = file.read_text(encoding="utf-8")
    assert "template: |" in text and "Ümlaut" in text
    assert "version" not in text and "updated_at" not in text
    assert load_dir(tmp_path) == [draft]
