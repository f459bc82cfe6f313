"""Training data: a readable YAML file of intents with phase, moment and examples per language.

The format (one or more files are merged in order, later files may add intents and examples)::

    version: 1
    intents:
      track_order:
        phase: use
        moment: service
        description: Where is my parcel?
        examples:
          de: [wo ist meine bestellung, sendungsverfolgung]
          en: [where is my order, track my package]
    out_of_scope:
      de: [wie wird das wetter morgen]
      en: [tell me a joke]

Every problem raises :class:`~intent.errors.TrainingDataError` with the file and the reason.
:func:`data_hash` identifies a data set so a saved model can be matched to its data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from intent.catalog import OUT_OF_SCOPE, Catalog, IntentSpec
from intent.errors import TrainingDataError, UnknownIntent

DEFAULT_DATA_PATH = Path(__file__).parent / "data" / "retail_intents.yml"
#: Utterances written apart from the training data, never trained on: the retail test set.
HELDOUT_DATA_PATH = Path(__file__).parent / "data" / "retail_heldout.yml"
_LANG = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class Example:
    """One labelled utterance. ``intent`` is ``out_of_scope`` for out-of-scope examples."""

    text: str
    intent: str
    lang: str


@dataclass
class TrainingData:
    """The merged result of one or more training files."""

    catalog: Catalog
    examples: list[Example] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def labels(self) -> list[str]:
        return [e.intent for e in self.examples]

    @property
    def langs(self) -> list[str]:
        return [e.lang for e in self.examples]

    @property
    def hash(self) -> str:
        return data_hash(self)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.examples:
            out[e.intent] = out.get(e.intent, 0) + 1
        return out


class _IntentEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phase: str | None = None
    moment: str | None = None
    description: str = ""
    examples: dict[str, list[str]] = Field(default_factory=dict)


class _TrainingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    intents: dict[str, _IntentEntry] = Field(default_factory=dict)
    out_of_scope: dict[str, list[str]] = Field(default_factory=dict)


def _read_yaml(path: Path) -> _TrainingFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainingDataError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise TrainingDataError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise TrainingDataError(f"{path}: the top level must be a mapping with 'intents'")
    try:
        return _TrainingFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise TrainingDataError(f"{path}: {problems}") from None


def _clean_examples(
    source: str, owner: str, by_lang: dict[str, list[str]]
) -> Iterable[tuple[str, str]]:
    for lang, texts in by_lang.items():
        if not _LANG.match(lang):
            raise TrainingDataError(
                f"{source}: {owner}: language {lang!r} must be a two-letter code such as 'de'"
            )
        for text in texts:
            cleaned = " ".join(str(text).split())
            if not cleaned:
                raise TrainingDataError(f"{source}: {owner}: empty example in {lang!r}")
            yield lang, cleaned


def load_training_data(paths: Sequence[Path], *, min_examples: int = 1) -> TrainingData:
    """Load and merge training files in order; missing files other than the first are skipped.

    Raises :class:`TrainingDataError` when a file is unreadable or malformed, an intent lacks a
    phase or moment, has an unknown one, one text is labelled with two different intents, or an
    intent ends up with fewer than ``min_examples`` examples.
    """
    assert paths, "load_training_data needs at least one path"
    specs: dict[str, IntentSpec] = {}
    examples: dict[tuple[str, str], Example] = {}  # (lang, lowercased text) -> example
    sources: list[str] = []
    for index, path in enumerate(paths):
        if index > 0 and not path.exists():
            continue
        parsed = _read_yaml(path)
        source = str(path)
        sources.append(source)
        for name, entry in parsed.intents.items():
            known = specs.get(name)
            phase = entry.phase or (known.phase if known else None)
            moment = entry.moment or (known.moment if known else None)
            if phase is None or moment is None:
                raise TrainingDataError(
                    f"{source}: intent {name!r} needs both 'phase' and 'moment'"
                )
            spec = IntentSpec(
                name=name,
                phase=phase,
                moment=moment,
                description=entry.description or (known.description if known else ""),
            )
            spec.validate(source)
            if known is not None and (known.phase, known.moment) != (phase, moment):
                raise TrainingDataError(
                    f"{source}: intent {name!r} is {phase}/{moment} here but "
                    f"{known.phase}/{known.moment} in an earlier file"
                )
            specs[name] = spec
            for lang, text in _clean_examples(source, f"intent {name!r}", entry.examples):
                _add(examples, Example(text, name, lang), source)
        for lang, text in _clean_examples(source, "out_of_scope", parsed.out_of_scope):
            _add(examples, Example(text, OUT_OF_SCOPE, lang), source)
    data = TrainingData(catalog=Catalog(specs.values()), examples=list(examples.values()))
    data.sources = sources
    counts = data.counts()
    for name in data.catalog:
        if counts.get(name, 0) < min_examples:
            raise TrainingDataError(
                f"{sources[-1]}: intent {name!r} has {counts.get(name, 0)} examples; "
                f"at least {min_examples} are needed"
            )
    return data


def _add(examples: dict[tuple[str, str], Example], example: Example, source: str) -> None:
    key = (example.lang, example.text.lower())
    previous = examples.get(key)
    if previous is not None and previous.intent != example.intent:
        raise TrainingDataError(
            f"{source}: {example.text!r} is labelled both {previous.intent!r} and "
            f"{example.intent!r}"
        )
    examples[key] = example


def data_hash(data: TrainingData) -> str:
    """SHA-256 over the catalogue and the examples (order-independent)."""
    payload: dict[str, Any] = {
        "catalog": sorted(data.catalog.to_list(), key=lambda s: s["name"]),
        "examples": sorted([e.intent, e.lang, e.text] for e in data.examples),
    }
    encoded = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def append_user_examples(
    path: Path,
    examples: Sequence[Example],
    *,
    catalog: Catalog,
    new_intents: Sequence[IntentSpec] = (),
) -> int:
    """Add ``examples`` (and definitions of ``new_intents``) to the user file at ``path``.

    The file uses the training format, is created if missing and is replaced atomically.
    Every example must name an intent of ``catalog`` or of ``new_intents`` (or be
    ``out_of_scope``), else :class:`UnknownIntent` is raised and nothing is written.
    Returns the number of examples in the file afterwards.
    """
    new_by_name = {spec.name: spec for spec in new_intents}
    for spec in new_intents:
        spec.validate("new intent")
        known = catalog.get(spec.name)
        if known is not None and (known.phase, known.moment) != (spec.phase, spec.moment):
            raise TrainingDataError(
                f"intent {spec.name!r} already exists as {known.phase}/{known.moment}"
            )
    for example in examples:
        if example.intent != OUT_OF_SCOPE and example.intent not in catalog:
            if example.intent not in new_by_name:
                raise UnknownIntent(
                    f"intent {example.intent!r} is not in the catalogue; define it with a "
                    "phase and a moment to add it"
                )
        owner = f"intent {example.intent!r}"
        list(_clean_examples("new example", owner, {example.lang: [example.text]}))

    current = _read_yaml(path) if path.exists() else _TrainingFile()
    raw: dict[str, Any] = current.model_dump()
    intents: dict[str, Any] = raw.setdefault("intents", {})
    for spec in new_intents:
        entry = intents.setdefault(spec.name, {"examples": {}})
        entry.update(phase=spec.phase, moment=spec.moment, description=spec.description)
    for example in examples:
        if example.intent == OUT_OF_SCOPE:
            bucket = raw.setdefault("out_of_scope", {}).setdefault(example.lang, [])
        else:
            entry = intents.setdefault(example.intent, {"examples": {}})
            bucket = entry.setdefault("examples", {}).setdefault(example.lang, [])
        text = " ".join(example.text.split())
        if text not in bucket:
            bucket.append(text)
    for entry in intents.values():
        for key in ("phase", "moment"):
            if entry.get(key) is None:
                entry.pop(key, None)
        if not entry.get("description"):
            entry.pop("description", None)
    _write_atomically(path, yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))
    total = sum(len(t) for e in intents.values() for t in e.get("examples", {}).values())
    return total + sum(len(t) for t in raw.get("out_of_scope", {}).values())


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
