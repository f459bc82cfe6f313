"""The interest taxonomy: the topics a visitor can be after, as data the marketers own.

The default lives in ``intent/data/taxonomy.yml`` (its header documents the format). A taxonomy
is a frozen value: :attr:`Taxonomy.ids` lists the category ids in file order and
``taxonomy[id]`` looks one up. :func:`load_taxonomy` reads and validates a YAML file,
:func:`dump_taxonomy` writes one that loads back equal.

Example::

    taxonomy = load_taxonomy()
    taxonomy.ids            # ("hiking", "running", "climbing", ...)
    taxonomy["camping"].labels.de   # "Camping"
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from intent.errors import TaxonomyError
from intent.interest._text import fold

DEFAULT_TAXONOMY: Final = Path(__file__).resolve().parents[1] / "data" / "taxonomy.yml"
_ID: Final = re.compile(r"[a-z][a-z0-9_]*")
_FROZEN: Final = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Text(BaseModel):
    """One short text in German and in English; neither may be empty."""

    model_config = _FROZEN

    de: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Words(BaseModel):
    """Words and phrases in German and in English (either list may be empty)."""

    model_config = _FROZEN

    de: tuple[str, ...] = ()
    en: tuple[str, ...] = ()

    @field_validator("de", "en")
    @classmethod
    def _no_blank(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(str(w).strip() for w in words)
        if any(not w for w in cleaned):
            raise ValueError("a word may not be empty")
        return cleaned

    def all(self) -> tuple[str, ...]:
        """German then English, each word once."""
        return tuple(dict.fromkeys((*self.de, *self.en)))


class Category(BaseModel):
    """One topic: its id (as the content pool targets it), names, description and vocabulary."""

    model_config = _FROZEN

    id: str
    labels: Text
    descriptions: Text
    synonyms: Words = Words()
    path_segments: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _id_pattern(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a category id: lower-case letters, digits and _, "
                "starting with a letter"
            )
        return value

    @field_validator("path_segments")
    @classmethod
    def _segments(cls, segments: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(fold(str(s).strip().strip("/")) for s in segments)
        for segment in cleaned:
            if not segment or "/" in segment:
                raise ValueError(f"{segment!r} is not one path segment")
        return cleaned


class Taxonomy(BaseModel):
    """The categories in their order, plus the neutral words German compounds are made with.

    Raises :class:`pydantic.ValidationError` (wrapped in :class:`TaxonomyError` by
    :func:`load_taxonomy`) for duplicate ids, a word or path segment claimed by two categories,
    or no category at all.
    """

    model_config = _FROZEN

    categories: tuple[Category, ...] = Field(min_length=1)
    neutral_words: Words = Words()

    @model_validator(mode="after")
    def _unique(self) -> Taxonomy:
        problems: list[str] = []
        seen: dict[str, int] = {}
        for i, category in enumerate(self.categories):
            if category.id in seen:
                first = seen[category.id]
                problems.append(f"categories.{i}.id: {category.id!r} is already categories.{first}")
            seen.setdefault(category.id, i)
        synonyms = {c.id: tuple(fold(w) for w in c.synonyms.all()) for c in self.categories}
        segments = {c.id: c.path_segments for c in self.categories}
        for kind, vocabulary in (("synonym", synonyms), ("path segment", segments)):
            owner: dict[str, str] = {}
            for category_id, words in vocabulary.items():
                for word in dict.fromkeys(words):
                    other = owner.setdefault(word, category_id)
                    if other != category_id:
                        problems.append(f"{kind} {word!r} is in both {other!r} and {category_id!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def ids(self) -> tuple[str, ...]:
        """The category ids, in file order."""
        return tuple(c.id for c in self.categories)

    def __getitem__(self, category_id: str) -> Category:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(category_id)

    def __contains__(self, category_id: object) -> bool:
        return category_id in self.ids

    def __iter__(self) -> Iterator[Category]:  # type: ignore[override]
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)


def parse_taxonomy(data: Any, *, source: str = "taxonomy") -> Taxonomy:
    """Validate already-parsed data (a mapping with ``categories``) into a :class:`Taxonomy`.

    Raises :class:`TaxonomyError` naming ``source`` and every problem with its place
    (``taxonomy.yml: categories.2.labels.de: String should have at least 1 character``).
    """
    if not isinstance(data, dict):
        raise TaxonomyError(
            f"{source}: expected a mapping with 'categories:'",
            [{"field": "body", "message": "expected a mapping with 'categories:'"}],
        )
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        problems = []
        fields = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
            fields.append({"field": where, "message": message})
        raise TaxonomyError(f"{source}: " + "; ".join(problems), fields) from None


def load_taxonomy(path: str | Path = DEFAULT_TAXONOMY) -> Taxonomy:
    """Read and validate a taxonomy YAML file (the default one without an argument).

    Raises :class:`TaxonomyError` for a file that is not YAML or not a valid taxonomy, and
    ``FileNotFoundError`` for a missing file.
    """
    file = Path(path)
    return loads_taxonomy(file.read_text(encoding="utf-8"), source=file.name)


def loads_taxonomy(text: str | bytes, *, source: str = "taxonomy") -> Taxonomy:
    """Read and validate a taxonomy from YAML text (JSON is YAML too).

    Raises :class:`TaxonomyError` for text that is not YAML or not a valid taxonomy.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise TaxonomyError(
            f"{source}: not valid YAML{where}",
            [{"field": "body", "message": f"not valid YAML{where}"}],
        ) from None
    return parse_taxonomy(data, source=source)


class _Dumper(yaml.SafeDumper):
    pass


def _list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    # word lists on a few lines, as people write them; lists of categories in block style
    words = all(isinstance(v, str) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=words)


_Dumper.add_representer(list, _list)


def dump_taxonomy(taxonomy: Taxonomy, path: str | Path) -> Path:
    """Write ``taxonomy`` as YAML to ``path`` (loads back equal); returns the path."""
    file = Path(path)
    file.write_text(dumps_taxonomy(taxonomy), encoding="utf-8")
    return file


def dumps_taxonomy(taxonomy: Taxonomy) -> str:
    """``taxonomy`` as YAML text (:func:`loads_taxonomy` reads it back equal)."""
    data = taxonomy.model_dump(mode="json")
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
