"""The referrer database: which host is a search engine, social network, AI assistant, mail or ad.

Built from Matomo's community lists (``intent/data/referrers/``, vendored unchanged, CC0) and two
project lists in the same format (``intent/data/webmail.yml``, ``intent/data/ad_networks.yml``).
Lookups are dictionary probes: the host is walked from the most specific suffix to the registrable
domain, and at each step the exact name and its ``{}`` (country) variants are tried, so
``it.images.search.yahoo.com`` finds ``images.search.yahoo.com`` and ``www.google.co.uk`` finds
``google.{}``. Only hosts that match no listed name are tried against the few ``/regex/`` entries.

Refresh the vendored Matomo lists from a checkout of
github.com/matomo-org/searchengine-and-social-list (validated before anything is overwritten)::

    python -m intent.situation --update ../searchengine-and-social-list \
        --commit SHA --date 2026-07-15
"""

from __future__ import annotations

import argparse
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from intent.errors import ReferrerDataError

DATA_DIR: Final = Path(__file__).resolve().parents[1] / "data"
MATOMO_DIR: Final = DATA_DIR / "referrers"
MATOMO_FILES: Final = ("SearchEngines.yml", "Socials.yml", "AIAssistants.yml")

# Second-level labels under which countries register names (`google.co.uk`); `{}` covers both.
_COMPOUND_SLDS: Final = frozenset({"com", "org", "net", "co", "it", "edu", "ac", "gov", "ne", "or"})
_PLACEHOLDER: Final = "{}"


@dataclass(frozen=True, slots=True)
class ReferrerEntry:
    """One definition: what a matching referrer is and how to read its search term.

    ``params`` are query parameters holding the term, tried in order; ``patterns`` are regexes
    (first group = term) tried on the path and query when no parameter held one; ``charsets`` are
    tried when the percent-decoded term is not UTF-8.
    """

    medium: str
    name: str
    params: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    charsets: tuple[str, ...] = ()


@dataclass(slots=True)
class ReferrerIndex:
    """Host -> :class:`ReferrerEntry` lookup over the merged lists.

    Build it with :meth:`load`; ``lookup(host, path)`` returns the most specific definition or
    ``None``. The first list given wins when two lists define the same host and path.
    """

    list_date: str | None = None
    _by_host: dict[str, list[tuple[str, ReferrerEntry]]] = field(default_factory=dict)
    _host_patterns: list[tuple[re.Pattern[str], ReferrerEntry]] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_host.values()) + len(self._host_patterns)

    def add(self, url: str, entry: ReferrerEntry) -> None:
        """Register ``url`` (``host``, ``host/path``, a ``{}`` template or a ``/regex/`` host)."""
        url = url.strip().lower()
        if len(url) > 2 and url.startswith("/") and url.endswith("/"):
            self._host_patterns.append((re.compile(url[1:-1]), entry))
            return
        host, _, path = url.partition("/")
        path = "/" + path if path else ""
        entries = self._by_host.setdefault(host, [])
        if any(p == path and e.medium == entry.medium for p, e in entries):
            return
        entries.append((path, entry))
        entries.sort(key=lambda item: len(item[0]), reverse=True)

    def lookup(self, host: str, path: str = "/") -> ReferrerEntry | None:
        """Return the most specific definition for a lowercase ``host`` (no port), or ``None``."""
        return next(self.matches(host, path), None)

    def matches(self, host: str, path: str = "/") -> Iterator[ReferrerEntry]:
        """Every definition that matches ``host`` and ``path``, the most specific first.

        A host can be listed twice (``www.facebook.com`` is a search engine, ``facebook.com`` a
        social network); the caller decides, as Matomo does, that a search engine without a
        search term gives way to another definition.
        """
        labels = host.split(".")
        found = False
        for start in range(len(labels) - 1):
            for key in _candidate_keys(labels[start:]):
                for prefix, entry in self._by_host.get(key, ()):
                    if not prefix or path.startswith(prefix):
                        found = True
                        yield entry
        if found:
            return
        for pattern, entry in self._host_patterns:
            if pattern.search(host):
                yield entry

    @classmethod
    def load(
        cls,
        matomo_dir: Path = MATOMO_DIR,
        *,
        webmail: Path | None = DATA_DIR / "webmail.yml",
        ad_networks: Path | None = DATA_DIR / "ad_networks.yml",
        additions: Path | None = DATA_DIR / "referrers_additions.yml",
    ) -> ReferrerIndex:
        """Read the lists; raise :class:`~intent.errors.ReferrerDataError` if one is unusable."""
        index = cls(list_date=read_list_date(matomo_dir))
        # Project lists first: a webmail or ad host is more telling than a portal's search entry.
        for path, medium in ((ad_networks, "paid"), (webmail, "email")):
            if path is not None:
                for name, url in _simple_list(_read_yaml(path), path):
                    index.add(url, ReferrerEntry(medium=medium, name=name))
        extra = _read_yaml(additions) if additions is not None else {}
        for section, medium in (("AIAssistants", "chatbot"), ("Socials", "social")):
            path = matomo_dir / f"{section}.yml"
            for name, url in _simple_list(_read_yaml(path), path):
                index.add(url, ReferrerEntry(medium=medium, name=name))
            for name, url in _simple_list(extra.get(section) or {}, additions or path):
                index.add(url, ReferrerEntry(medium=medium, name=name))
        for url, entry in _search_engines(_read_yaml(matomo_dir / "SearchEngines.yml"), matomo_dir):
            index.add(url, entry)
        return index


def _candidate_keys(labels: Sequence[str]) -> Iterator[str]:
    """The exact name, then Matomo's ``{}`` variants (country TLD, country subdomain, both)."""
    yield ".".join(labels)
    n = len(labels)
    tails: list[list[str]] = []
    if n >= 3 and labels[-2] in _COMPOUND_SLDS and _is_country(labels[-1]):
        tails.append([*labels[:-2], _PLACEHOLDER])
    if n >= 2 and _is_country(labels[-1]):
        tails.append([*labels[:-1], _PLACEHOLDER])
    for tail in tails:
        yield ".".join(tail)
    for variant in [list(labels), *tails]:
        for i in range(len(variant) - 1):
            if _is_country(variant[i]):
                yield ".".join([*variant[:i], _PLACEHOLDER, *variant[i + 1 :]])


def _is_country(label: str) -> bool:
    # Every two-letter top-level domain is a country code, so any two letters stand for `{}`.
    return len(label) == 2 and label.isalpha()


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise ReferrerDataError(f"{path}: cannot read referrer list ({exc})") from exc


def _simple_list(data: Any, where: Path) -> Iterator[tuple[str, str]]:
    if not isinstance(data, Mapping):
        raise ReferrerDataError(f"{where}: expected a mapping of name -> hosts")
    for name, urls in data.items():
        if not isinstance(urls, list):
            raise ReferrerDataError(f"{where}: {name!r} must list hosts")
        for url in urls:
            yield str(name), str(url)


def _search_engines(data: Any, where: Path) -> Iterator[tuple[str, ReferrerEntry]]:
    if not isinstance(data, Mapping):
        raise ReferrerDataError(f"{where}/SearchEngines.yml: expected a mapping")
    for name, configs in data.items():
        if not isinstance(configs, list):
            raise ReferrerDataError(f"{where}/SearchEngines.yml: {name!r} must be a list")
        for config in configs:
            params: list[str] = []
            patterns: list[re.Pattern[str]] = []
            for param in config.get("params") or ():
                param = str(param)
                if len(param) > 2 and param.startswith("/") and param.endswith("/"):
                    patterns.append(re.compile(param[1:-1]))
                else:
                    params.append(param)
            entry = ReferrerEntry(
                medium="search",
                name=str(name),
                params=tuple(params),
                patterns=tuple(patterns),
                charsets=tuple(str(c) for c in config.get("charsets") or ()),
            )
            for url in config.get("urls") or ():
                yield str(url), entry


def read_list_date(matomo_dir: Path = MATOMO_DIR) -> str | None:
    """The ``date:`` line of the vendored lists' SOURCE.txt, or ``None`` when it has none."""
    try:
        text = (matomo_dir / "SOURCE.txt").read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^date:\s*(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def update_from(
    checkout: Path,
    *,
    target: Path = MATOMO_DIR,
    commit: str | None = None,
    date: str | None = None,
) -> list[str]:
    """Copy Matomo's lists from a checkout into ``target`` and record where they came from.

    The lists are validated by building an index before anything is overwritten; returns the
    copied file names. Raises :class:`~intent.errors.ReferrerDataError` if a file is missing or
    unusable.
    """
    missing = [name for name in MATOMO_FILES if not (checkout / name).is_file()]
    if missing:
        raise ReferrerDataError(f"{checkout}: missing {', '.join(missing)}")
    ReferrerIndex.load(checkout, webmail=None, ad_networks=None, additions=None)
    target.mkdir(parents=True, exist_ok=True)
    copied = [name for name in (*MATOMO_FILES, "LICENSE") if (checkout / name).is_file()]
    for name in copied:
        shutil.copyfile(checkout / name, target / name)
    lines = [
        "Matomo's search-engine, social-network and AI-assistant definitions (SearchEngines.yml,",
        "Socials.yml, AIAssistants.yml), vendored unchanged.",
        "repo: github.com/matomo-org/searchengine-and-social-list",
        f"commit: {commit or 'unknown'}",
        f"date: {date or 'unknown'}",
        "licence: CC0-1.0 (LICENSE beside this file)",
        "refresh: python -m intent.situation --update PATH --commit SHA --date DATE",
    ]
    (target / "SOURCE.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return copied


def main(argv: Iterable[str] | None = None) -> int:
    """Command line: show the lists' date and size; ``--update CHECKOUT`` refreshes them first."""
    from rich.console import Console

    parser = argparse.ArgumentParser(
        prog="python -m intent.situation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--update", type=Path, metavar="CHECKOUT", help="Matomo list checkout")
    parser.add_argument("--commit", help="commit of the checkout, recorded in SOURCE.txt")
    parser.add_argument("--date", help="date of that commit (YYYY-MM-DD), recorded in SOURCE.txt")
    args = parser.parse_args(None if argv is None else list(argv))
    console = Console()
    if args.update is not None:
        copied = update_from(args.update, commit=args.commit, date=args.date)
        console.print(f"updated {', '.join(copied)} in {MATOMO_DIR}")
    index = ReferrerIndex.load()
    console.print(f"referrer lists dated {index.list_date}: {len(index)} host definitions")
    return 0
