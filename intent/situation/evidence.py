"""Situation evidence: named rules (data, in YAML) that turn situation facts into hints.

The rules live in ``intent/data/situation_evidence.yml``; its header documents the format. A rule
fires when all its conditions hold and yields an :class:`Evidence` carrying its name, phase,
moment, weight and what matched, for the intent fusion and for explanations.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from intent.errors import EvidenceRuleError
from intent.situation.models import Evidence

DEFAULT_RULES: Final = Path(__file__).resolve().parents[1] / "data" / "situation_evidence.yml"
PHASES: Final = frozenset({"explore", "consider", "purchase", "use", "churn"})
MOMENTS: Final = frozenset({"know", "go", "do", "buy", "service", "problem"})
_TEXT_FIELDS: Final = {
    "search_term": "search term",
    "campaign": "campaign",
    "url_path": "page path",
}
_CHOICE_FIELDS: Final = ("medium", "device", "daypart")
_FLAG_FIELDS: Final = ("is_returning", "is_weekend")
_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
_FOLD: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_SEPARATORS: Final = re.compile(r"[\s_\-./+,;:!?()\[\]\"'#&=%]+")


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules can look at, already read from the context."""

    search_term: str | None
    campaign: str | None
    url_path: str | None
    medium: str
    device: str
    daypart: str
    is_returning: bool | None
    is_weekend: bool
    page_views: int | None


Condition = Callable[[Facts], str | None]
"""Returns a short description of what matched, or ``None`` when the condition does not hold."""


@dataclass(frozen=True, slots=True)
class EvidenceRule:
    name: str
    description: str
    phase: str | None
    moment: str | None
    weight: float
    conditions: tuple[Condition, ...]

    def apply(self, facts: Facts) -> Evidence | None:
        matched: list[str] = []
        for condition in self.conditions:
            found = condition(facts)
            if found is None:
                return None
            matched.append(found)
        return Evidence(
            name=self.name,
            phase=self.phase,
            moment=self.moment,
            weight=self.weight,
            detail=f"{self.description} ({'; '.join(matched)})",
        )


class EvidenceRules:
    """The loaded rule set. ``evaluate(facts)`` returns the evidence of every rule that fires."""

    def __init__(self, rules: Sequence[EvidenceRule]) -> None:
        self.rules = tuple(rules)

    def __len__(self) -> int:
        return len(self.rules)

    def evaluate(self, facts: Facts) -> list[Evidence]:
        return [e for rule in self.rules if (e := rule.apply(facts)) is not None]

    @classmethod
    def load(cls, path: Path = DEFAULT_RULES) -> EvidenceRules:
        """Read and validate a rule file; raise :class:`~intent.errors.EvidenceRuleError`."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise EvidenceRuleError(f"{path}: cannot read evidence rules ({exc})") from exc
        if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
            raise EvidenceRuleError(f"{path}: expected a mapping with a 'rules' list")
        rules: list[EvidenceRule] = []
        for raw in data["rules"]:
            rule = _parse_rule(raw, path)
            if any(r.name == rule.name for r in rules):
                raise EvidenceRuleError(f"{path}: rule {rule.name!r} is defined twice")
            rules.append(rule)
        return cls(rules)


def normalize(text: str) -> str:
    """Lower-case, fold umlauts and accents, and turn separators into single spaces."""
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", plain).strip()


def _parse_rule(raw: Any, path: Path) -> EvidenceRule:
    if not isinstance(raw, Mapping):
        raise EvidenceRuleError(f"{path}: every rule must be a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise EvidenceRuleError(f"{path}: rule name {name!r} must be snake_case")
    where = f"{path}: rule {name!r}"
    unknown = set(raw) - {"name", "description", "phase", "moment", "weight", "when"}
    if unknown:
        raise EvidenceRuleError(f"{where}: unknown keys {sorted(unknown)}")
    phase, moment = raw.get("phase"), raw.get("moment")
    if phase is not None and phase not in PHASES:
        raise EvidenceRuleError(f"{where}: phase {phase!r} is not one of {sorted(PHASES)}")
    if moment is not None and moment not in MOMENTS:
        raise EvidenceRuleError(f"{where}: moment {moment!r} is not one of {sorted(MOMENTS)}")
    if phase is None and moment is None:
        raise EvidenceRuleError(f"{where}: needs a phase or a moment")
    weight = raw.get("weight")
    if not isinstance(weight, int | float) or not 0.0 < float(weight) <= 1.0:
        raise EvidenceRuleError(f"{where}: weight must be a number in (0, 1]")
    when = raw.get("when")
    if not isinstance(when, Mapping) or not when:
        raise EvidenceRuleError(f"{where}: 'when' must hold at least one condition")
    conditions = [_condition(key, value, where) for key, value in when.items()]
    return EvidenceRule(
        name=name,
        description=str(raw.get("description") or name.replace("_", " ")),
        phase=phase,
        moment=moment,
        weight=float(weight),
        conditions=tuple(conditions),
    )


def _condition(key: str, value: Any, where: str) -> Condition:
    if key in _TEXT_FIELDS:
        return _text_condition(key, _strings(key, value, where), where)
    if key in _CHOICE_FIELDS:
        allowed = frozenset(_strings(key, value, where))

        def choice(facts: Facts) -> str | None:
            actual = getattr(facts, key)
            return f"{key} {actual}" if actual in allowed else None

        return choice
    if key in _FLAG_FIELDS:
        if not isinstance(value, bool):
            raise EvidenceRuleError(f"{where}: {key} must be true or false")

        def flag(facts: Facts) -> str | None:
            return f"{key} {str(value).lower()}" if getattr(facts, key) is value else None

        return flag
    if key == "min_page_views":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise EvidenceRuleError(f"{where}: min_page_views must be a non-negative integer")

        def views(facts: Facts) -> str | None:
            seen = facts.page_views
            return f"{seen} page views" if seen is not None and seen >= value else None

        return views
    raise EvidenceRuleError(f"{where}: unknown condition {key!r}")


def _text_condition(key: str, words: Sequence[str], where: str) -> Condition:
    label = _TEXT_FIELDS[key]
    if "*" in words:
        def present(facts: Facts) -> str | None:
            text = getattr(facts, key)
            return f"{label} present" if text else None

        return present
    alternatives = []
    for word in words:
        stem = normalize(word.rstrip("*"))
        if not stem:
            raise EvidenceRuleError(f"{where}: empty word in {key}")
        escaped = r"\s+".join(re.escape(part) for part in stem.split(" "))
        alternatives.append(escaped + (r"[a-z0-9]*" if word.endswith("*") else ""))
    pattern = re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")(?![a-z0-9])")

    def match(facts: Facts) -> str | None:
        text = getattr(facts, key)
        if not text:
            return None
        found = pattern.search(normalize(text))
        return f"{label} contains {found.group(0)!r}" if found else None

    return match


def _strings(key: str, value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise EvidenceRuleError(f"{where}: {key} must be a non-empty list of strings")
    return list(value)
