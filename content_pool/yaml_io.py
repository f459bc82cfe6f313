"""A content pool as a directory of YAML files, so a team can keep it in git.

A file (``*.yaml`` or ``*.yml``, searched recursively, in name order) holds either one item
(a mapping with an ``id``) or several under ``items:``::

    # hero.yaml
    items:
      - id: hero-explore-de
        title: Sommer in den Bergen
        slot: hero
        channel: web
        language: de
        template: |
          <h2>{{ item.title }}</h2>
        targeting: {phases: [explore], categories: [hiking]}
        status: live

Fields are those of :class:`~content_pool.models.ContentDraft`; ``version`` and
``updated_at`` belong to the store and are not written (git keeps the history of the files).
:func:`dump_dir` writes one file per slot, ``<slot>.yaml``, items ordered by language and id.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from content_pool.errors import FieldError, InvalidContent
from content_pool.models import ContentDraft, field_errors


def load_dir(path: str | Path) -> list[ContentDraft]:
    """Read every item in the directory, ordered by id.

    Raises :class:`InvalidContent` listing every problem found in every file, each located by
    file and field (``hero.yaml: items.3.targeting.phases.0``), including duplicate ids.
    Raises ``FileNotFoundError`` when ``path`` is not a directory.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"not a directory: {root}")
    errors: list[FieldError] = []
    seen: dict[str, str] = {}
    items: list[ContentDraft] = []
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    for file in files:
        name = file.relative_to(root).as_posix()
        for where, raw in _entries(file, name, errors):
            try:
                draft = ContentDraft.model_validate(raw)
            except ValidationError as exc:
                errors.extend(field_errors(exc, prefix=where))
                continue
            if draft.id in seen:
                errors.append(
                    FieldError(f"{where}.id", f"{draft.id!r} already in {seen[draft.id]}")
                )
                continue
            seen[draft.id] = name
            items.append(draft)
    if errors:
        raise InvalidContent(errors)
    return sorted(items, key=lambda item: item.id)


def _entries(file: Path, name: str, errors: list[FieldError]) -> list[tuple[str, Any]]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        errors.append(FieldError(name, f"not valid YAML{where}: {getattr(exc, 'problem', exc)}"))
        return []
    except UnicodeDecodeError:
        errors.append(FieldError(name, "not UTF-8 text"))
        return []
    if data is None:
        return []
    if isinstance(data, dict) and "items" in data:
        if set(data) != {"items"} or not isinstance(data["items"], list):
            errors.append(FieldError(name, "a file with 'items:' holds only a list of items"))
            return []
        return [(f"{name}: items.{i}", raw) for i, raw in enumerate(data["items"])]
    if isinstance(data, dict):
        return [(f"{name}:", data)]
    errors.append(FieldError(name, "expected one item (a mapping) or 'items:' with a list"))
    return []


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_dir(items: Iterable[ContentDraft], path: str | Path) -> list[Path]:
    """Write the items as ``<slot>.yaml`` files in ``path`` (created if needed).

    Existing files of the same names are replaced; other files are left alone. Returns the
    paths written. Defaults and empty values are left out, so files stay short.
    """
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    by_slot: dict[str, list[ContentDraft]] = {}
    for item in items:
        by_slot.setdefault(item.slot, []).append(item.draft())
    written = []
    for slot, drafts in sorted(by_slot.items()):
        drafts.sort(key=lambda d: (d.language, d.id))
        data = {"items": [_plain(d) for d in drafts]}
        file = root / f"{slot}.yaml"
        text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
        file.write_text(text, encoding="utf-8")
        written.append(file)
    return written


def _plain(draft: ContentDraft) -> dict[str, Any]:
    data = draft.model_dump(mode="json", exclude_defaults=True)
    # keep the placement readable even when it equals a default
    return {"id": draft.id, **{k: v for k, v in data.items() if k != "id"}}
