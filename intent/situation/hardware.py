"""Which kind of hardware a User-Agent names, by Matomo Device Detector's device and bot rules.

Matomo's lists (``regexes/device/*.yml``, ``regexes/bots.yml``; LGPL-3.0) name some 2,000 brands
and 17,000 models with their device type (a Samsung ``SM-T510`` is a tablet, a ``SM-G960F`` a
phone, a ``BRAVIA`` a TV), which is what ua-parser's families and the ``Mobile`` keyword cannot
tell. They are read at start-up from the installed ``device-detector`` package (nothing is
vendored) and compiled, like the crawler patterns, into ua-parser-rs's linear-time regex sets:
one set of brand rules, then, for the brands whose models differ in type, one set of that
brand's model rules. The first rule that matches wins, in the lists' order, as in Matomo. Rules
with look-around, which the Rust engine lacks, are compiled without it as a superset prefilter
and confirmed with the ``regex`` module, so the order and the answer stay Matomo's.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Final

import regex
import ua_parser_rs
import yaml_rs

from intent.situation.models import DeviceType

# Matomo's device types, reduced to the project's.
TYPE_OF_MATOMO: Final[dict[str, DeviceType]] = {
    "smartphone": "mobile",
    "phablet": "mobile",
    "feature phone": "mobile",
    "portable media player": "mobile",
    "tablet": "tablet",
    "desktop": "desktop",
    "tv": "tv",
    "console": "console",
    "wearable": "wearable",
    "car browser": "car",
    "camera": "other",
    "smart display": "other",
    "smart speaker": "other",
    "peripheral": "other",
}
# Matomo's parsers in its order; televisions, shell TVs and notebooks only answer behind a guard.
_FILES: Final = ("consoles", "car_browsers", "cameras", "portable_media_player", "mobiles")
_APP_FILES: Final = ("mobile_apps", "pim", "mediaplayers", "feed_readers")
_HBBTV: Final = re.compile(r"(?:HbbTV|SmartTvA)/[1-9](?:\.[0-9]){1,2}", re.IGNORECASE)
_SHELL_TV: Final = re.compile(r"[a-z]+[ _]Shell[ _]\w{6}|tclwebkit\d+", re.IGNORECASE)
_WRAP: Final = r"(?:^|[^A-Z0-9_\-])(?:{})"
_LOOKAROUND: Final = re.compile(r"\(\?<?[=!]")


class OrderedRules:
    """The index of the first of ``patterns`` (Matomo syntax, case-insensitive) found in a text.

    Patterns the Rust engine takes go into one regex set; patterns with look-around go into a
    second set with the look-around removed (which only widens them), and a hit there is
    confirmed with the ``regex`` module before it counts.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns = [_WRAP.format(p) for p in patterns]
        self._confirm: dict[int, Any] = {}
        exact: list[tuple[int, str]] = []
        wide: list[tuple[int, str]] = []
        for i, (pattern, wrapped) in enumerate(zip(patterns, self._patterns, strict=True)):
            if _LOOKAROUND.search(pattern):
                self._confirm[i] = regex.compile(wrapped, regex.IGNORECASE)
                wide.append((i, _rust_syntax(_without_lookaround(wrapped))))
            else:
                exact.append((i, _rust_syntax(wrapped)))
        self._exact, rejected = _regex_set(exact)
        for i in rejected:  # Rust rejects its syntax: confirm every time, no prefilter
            self._confirm[i] = regex.compile(self._patterns[i], regex.IGNORECASE)
            wide.append((i, "(?:)"))
        wide.sort()
        self._wide, _ = _regex_set(wide)
        self._wide_order = sorted(self._confirm)

    def first(self, text: str) -> int | None:
        best = _index(self._exact, text)
        if self._wide is None:
            return best
        hit = _index(self._wide, text)
        if hit is None or (best is not None and hit > best):
            return best
        if self._confirm[hit].search(text):
            return hit
        # The widened rule was a false alarm: ask the remaining look-around rules before `best`.
        for i in self._wide_order:
            if i <= hit:
                continue
            if best is not None and i > best:
                break
            if self._confirm[i].search(text):
                return i
        return best


class MatomoDevices:
    """Device type and bot verdict from Matomo's lists; ``None`` where they say nothing."""

    def __init__(
        self,
        brands: Iterable[tuple[str, dict[str, Any]]],
        bots: Sequence[str],
        apps: Sequence[str] = (),
    ) -> None:
        self._brand_types: list[DeviceType | None] = []
        # Per brand: its model rules and their types when the types differ, else None. A
        # brand's rules are compiled on its first agent (most of the 440 such brands are rare),
        # which keeps start-up to the brand, bot and app sets.
        self._model_rules: list[tuple[list[str], list[DeviceType | None]] | None] = []
        self._models: list[OrderedRules | None] = []
        patterns: list[str] = []
        for _name, brand in brands:
            default = _type(brand.get("device"))
            models = brand.get("models") or []
            patterns.append(str(brand["regex"]))
            self._brand_types.append(default)
            model_types = [_type(m.get("device")) or default for m in models]
            if any(t != default for t in model_types):
                self._model_rules.append(([str(m["regex"]) for m in models], model_types))
            else:
                self._model_rules.append(None)
            self._models.append(None)
        self._brands = OrderedRules(patterns)
        self._bots = OrderedRules(bots)
        self._apps = OrderedRules(apps)

    def device_type(self, user_agent: str) -> DeviceType | None:
        if _HBBTV.search(user_agent) or _SHELL_TV.search(user_agent):
            return "tv"
        i = self._brands.first(user_agent)
        if i is None:
            return None
        models = self._model_rules[i]
        if models is not None:
            patterns, types = models
            rules = self._models[i]
            if rules is None:  # a race builds it twice, harmlessly
                rules = self._models[i] = OrderedRules(patterns)
            j = rules.first(user_agent)
            if j is not None:
                return types[j]
        return self._brand_types[i]

    def is_bot(self, user_agent: str) -> bool:
        return self._bots.first(user_agent) is not None

    def is_app(self, user_agent: str) -> bool:
        """Whether a mobile app, mail client, media player or feed reader Matomo knows sent it."""
        return self._apps.first(user_agent) is not None


@cache
def matomo_devices() -> MatomoDevices:
    """Matomo's rules from the installed ``device-detector`` package, built once per process."""
    root = importlib.resources.files("device_detector") / "regexes" / "upstream"
    brands: list[tuple[str, dict[str, Any]]] = []
    for name in _FILES:
        brands.extend(_read(root / "device" / f"{name}.yml").items())
    bot_rules = _read(root / "bots.yml")
    app_rules = [rule for name in _APP_FILES for rule in _read(root / "client" / f"{name}.yml")]
    return MatomoDevices(
        brands, [str(r["regex"]) for r in bot_rules], [str(r["regex"]) for r in app_rules]
    )


def _read(path: Any) -> Any:
    # yaml-rs (a device-detector dependency) reads these lists ten times faster than PyYAML.
    return yaml_rs.loads(path.read_text(encoding="utf-8"))


def _type(name: object) -> DeviceType | None:
    return TYPE_OF_MATOMO.get(str(name)) if name else None


def _index(extractor: Any, text: str) -> int | None:
    if extractor is None:
        return None
    found = extractor.extract(text)
    return int(found.family) if found is not None else None


def _rust_syntax(pattern: str) -> str:
    # PCRE accepts escaped punctuation that Rust's parser rejects, and `/` needs no escape.
    return "(?i)" + re.sub(r"\\([_/\-!@#%&=<>'\"`~,;:])", _escape_plain, pattern)


def _escape_plain(match: re.Match[str]) -> str:
    char = match.group(1)
    return "\\-" if char == "-" else re.escape(char)


def _regex_set(patterns: Sequence[tuple[int, str]]) -> tuple[Any, list[int]]:
    """A Rust regex set answering each pattern's index, and the indices it could not take."""
    if not patterns:
        return None, []
    try:
        return _extractor(patterns), []
    except Exception:  # noqa: BLE001 - the binding raises its own parse error type
        pass
    taken, rejected = [], []
    for i, pattern in patterns:
        try:
            _extractor([(i, pattern)])
        except Exception:  # noqa: BLE001
            rejected.append(i)
        else:
            taken.append((i, pattern))
    return (_extractor(taken) if taken else None), rejected


def _extractor(patterns: Iterable[tuple[int, str]]) -> Any:
    return ua_parser_rs.UserAgentExtractor(
        [(pattern, str(i), None, None, None, None) for i, pattern in patterns]
    )


def _without_lookaround(pattern: str) -> str:
    """``pattern`` with every ``(?=...)``, ``(?!...)``, ``(?<=...)``, ``(?<!...)`` group removed."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if _LOOKAROUND.match(pattern, i):
            depth, i = 0, i
            while i < len(pattern):
                if pattern[i] == "\\":
                    i += 2
                    continue
                if pattern[i] == "(":
                    depth += 1
                elif pattern[i] == ")":
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                i += 1
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)
