"""How often the content Kairos picks is about what the visitor is after, against three baselines.

Run from the repository root::

    .venv/bin/python bench/bench_relevance.py [--encoder use|hashing|...] [--content-dir DIR]
        [--verbose] [--json FILE|-]

The judged set is ``tests/relevance/situations.yaml``: shop visits (one request, or a session
of 2-3 requests where only the first carries the signal), each labelled with the topic the
visitor is after (a taxonomy category, or none) and their language. Every visit goes through
``POST /v1/decide`` of the app built in process (embedded store, the content pool of
``--content-dir``, default the bundled demo pool; no holdout; fixed decision seed), in order,
with slots ``hero`` and ``product_reco``; the API has one ``items_per_slot`` for every slot, so
the three product recommendations are a second request of the same session after the judged one.
Context fields the API does not know yet (``page_title``, ``product``) are left out, and counted.

Metrics, per system:

- **hero on topic**: the chosen hero's ``targeting.categories`` contain the topic; for a visit
  without topic, the hero has no categories (a generic hero or the slot default);
- **hero language**: the chosen hero is in the visitor's language;
- **nDCG@3 of product_reco**: gain 1 for an item in the visitor's language whose categories
  contain the topic (no categories for a visit without topic); the ideal ranking is taken over the
  live items of the slot in that language that an anonymous visitor may get (audience conditions
  reading the profile need consent, which these visitors have not given). Visits where no such
  item exists count as "no relevant item" and are left out of the mean (the count is printed).

Baselines (given the labelled language, so their language figure is 100 % by construction; they
choose among the same candidates as the ideal ranking above and ignore phases and moments):

- **random**: a random candidate (the expectation over all candidates; nDCG averaged over 200
  seeded shuffles);
- **priority**: the highest-priority candidate (ties by id), in effect what a shop without
  situational reading shows;
- **tf-idf**: scikit-learn TF-IDF retrieval (word 1-2-grams and character 3-5-grams) of the
  candidates' text (title, categories, tags, template text) by the visit's text (search term of
  the referrer, on-site text, URL path words, UTM values, page title, product name, over all
  requests of the visit); priority order without text or without any match.

Progress goes to stderr, the table to stdout and to ``bench/results/relevance.txt``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import numpy as np
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402

from intent.situation.context import ContextInput  # noqa: E402
from service.app import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402

SITUATIONS = REPO / "tests" / "relevance" / "situations.yaml"
RESULTS = REPO / "bench" / "results" / "relevance.txt"
SITE = {"X-API-Key": "relevance-site-key"}
ADMIN = {"X-API-Key": "relevance-admin-key"}
SLOTS = ("hero", "product_reco")
RECO_ITEMS = 3
DECISION_SEED = 7
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SYSTEMS = ("kairos", "random", "priority", "tf-idf")
_SEARCH_PARAMS = ("q", "p", "query", "text", "wd", "search")
_PROFILE_READ = re.compile(r"\bprofile\b|\baffinity\s*\(")
_MARKUP = re.compile(r"<[^>]*>|\{[{%#].*?[}%#]\}", re.DOTALL)
_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)
_RANDOM_SHUFFLES = 200


# -- the judged set ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Situation:
    """One judged visit; the label is for its last request."""

    id: str
    topic: str | None
    language: str
    signals: tuple[str, ...]
    language_by: str
    requests: tuple[Mapping[str, Any], ...]


def load_situations(path: Path = SITUATIONS) -> list[Situation]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["situations"]
    return [
        Situation(
            id=entry["id"],
            topic=entry["topic"],
            language=entry["language"],
            signals=tuple(entry["signals"]),
            language_by=entry["language_by"],
            requests=tuple(entry["requests"]),
        )
        for entry in raw
    ]


# -- the content pool as the app holds it --------------------------------------------------------


@dataclass(frozen=True)
class PoolItem:
    id: str
    slot: str
    language: str
    categories: tuple[str, ...]
    priority: int
    text: str
    reads_profile: bool


def live_items(client: TestClient, now: datetime) -> dict[str, PoolItem]:
    """Live, valid items of the pool the app serves (``GET /v1/content``), by id."""
    response = client.get("/v1/content", params={"status": "live"}, headers=ADMIN)
    response.raise_for_status()
    items: dict[str, PoolItem] = {}
    for raw in response.json():
        valid_from, valid_to = raw.get("valid_from"), raw.get("valid_to")
        if valid_from and datetime.fromisoformat(valid_from) > now:
            continue
        if valid_to and datetime.fromisoformat(valid_to) <= now:
            continue
        targeting = raw.get("targeting") or {}
        categories = tuple(targeting.get("categories") or ())
        body = " ".join(_MARKUP.sub(" ", raw.get("template") or "").split())
        items[raw["id"]] = PoolItem(
            id=raw["id"],
            slot=raw["slot"],
            language=raw["language"],
            categories=categories,
            priority=int(raw.get("priority", 50)),
            text=" ".join([raw.get("title", ""), *categories, *(raw.get("tags") or ()), body]),
            reads_profile=bool(_PROFILE_READ.search(targeting.get("audience") or "")),
        )
    return items


def candidates(items: Mapping[str, PoolItem], slot: str, language: str) -> list[PoolItem]:
    """What an anonymous visitor may get in ``slot`` and ``language``, by priority then id."""
    found = [i for i in items.values()
             if i.slot == slot and i.language == language and not i.reads_profile]  # fmt: skip
    return sorted(found, key=lambda i: (-i.priority, i.id))


def relevant(item: PoolItem | None, topic: str | None, language: str) -> bool:
    """On topic: the categories contain the topic; without topic, the item has no categories."""
    if item is None or item.language != language:
        return False
    return not item.categories if topic is None else topic in item.categories


def ndcg(ranked: Sequence[PoolItem | None], pool: Sequence[PoolItem], topic: str | None,
         language: str, k: int = RECO_ITEMS) -> float | None:  # fmt: skip
    """nDCG@k with binary gains; ``None`` when no candidate is relevant."""
    ideal = sorted((relevant(i, topic, language) for i in pool), reverse=True)[:k]
    idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    if idcg == 0:
        return None
    dcg = sum(relevant(i, topic, language) / math.log2(r + 2) for r, i in enumerate(ranked[:k]))
    return dcg / idcg


# -- the visit's text, for the search baseline -----------------------------------------------------


def visit_text(situation: Situation) -> str:
    """Search terms, on-site text, URL path words, UTM values, page title and product name."""
    parts: list[str] = []
    for request in situation.requests:
        context = request.get("context") or {}
        referrer = context.get("referrer")
        if referrer:
            ref = urlsplit(referrer)
            if not ref.hostname or "bergfalke" not in ref.hostname:
                query = dict(parse_qsl(ref.query))
                parts.extend(query[p] for p in _SEARCH_PARAMS if query.get(p))
        if request.get("text"):
            parts.append(str(request["text"]))
        url = context.get("url")
        if url:
            landing = urlsplit(url)
            words = [w for w in _WORDS.findall(unquote_plus(landing.path)) if len(w) > 2]
            parts.extend(words)
            parts.extend(value for key, value in parse_qsl(landing.query)
                         if key in ("utm_campaign", "utm_content", "utm_term"))
        parts.extend(str(context[k]) for k in ("page_title", "product") if context.get(k))
    return " ".join(p.replace("-", " ").replace("_", " ") for p in parts).strip()


class TfidfRanker:
    """TF-IDF retrieval over one candidate list (word and character n-grams)."""

    def __init__(self, pool: Sequence[PoolItem]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        self.pool = list(pool)
        self.vectorizer = FeatureUnion([
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                      strip_accents="unicode", lowercase=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                      strip_accents="unicode", lowercase=True)),
        ])  # fmt: skip
        self.matrix = self.vectorizer.fit_transform([i.text for i in self.pool]) if pool else None

    def rank(self, text: str) -> list[PoolItem]:
        if not text or self.matrix is None:
            return list(self.pool)
        query = self.vectorizer.transform([text])
        scores = np.asarray((self.matrix @ query.T).todense()).ravel()
        if not (scores > 0).any():
            return list(self.pool)
        order = sorted(range(len(self.pool)), key=lambda j: (-scores[j], j))  # priority ties
        return [self.pool[j] for j in order]


# -- the systems ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one system showed for one visit."""

    hero: PoolItem | None
    hero_on_topic: float  # 0/1, or the expectation for the random baseline
    hero_language: float
    ndcg: float | None
    reco: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    detail: str = ""


def context_fields() -> set[str]:
    return set(ContextInput.model_fields)


def request_body(raw: Mapping[str, Any], session_id: str, slots: Sequence[str], count: int,
                 known: set[str], dropped: Counter[str]) -> dict[str, Any]:  # fmt: skip
    context = dict(raw.get("context") or {})
    for name in sorted(set(context) - known):
        dropped[name] += 1
        del context[name]
    if "user_agent" in known:
        context.setdefault("user_agent", BROWSER_UA)
    body: dict[str, Any] = {"session_id": session_id, "slots": list(slots),
                            "items_per_slot": count, "context": context}  # fmt: skip
    if raw.get("text"):
        body["text"] = raw["text"]
    return body


def _decide(client: TestClient, body: Mapping[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/decide", json=body, headers=SITE)
    if response.status_code != 200:
        raise RuntimeError(f"/v1/decide answered {response.status_code}: {response.text}")
    decision: dict[str, Any] = response.json()
    return decision


def run_kairos(client: TestClient, situation: Situation, index: int,
               items: Mapping[str, PoolItem], known: set[str],
               dropped: Counter[str]) -> Outcome:  # fmt: skip
    session = f"rel-{index:03d}-{situation.id}"[:128]
    decision: dict[str, Any] = {}
    for raw in situation.requests:
        decision = _decide(client, request_body(raw, session, SLOTS, 1, known, dropped))
    shown = decision["slots"].get("hero") or []
    hero = items.get(shown[0]["item_id"]) if shown else None
    reco_decision = _decide(client, request_body(situation.requests[-1], session,
                                                 ["product_reco"], RECO_ITEMS, known, Counter()))
    reco_ids = [s["item_id"] for s in reco_decision["slots"].get("product_reco") or []]
    reco = [items.get(i) for i in reco_ids]
    pool = candidates(items, "product_reco", situation.language)
    summary = decision.get("situation") or {}
    named = {k: (decision.get(k) or {}).get("name") for k in ("intent", "phase", "moment")}
    detail = (f"read: lang={summary.get('language')} medium={summary.get('medium')} "
              f"term={summary.get('search_term')!r} intent={named['intent']} "
              f"phase={named['phase']} moment={named['moment']}")  # fmt: skip
    return Outcome(
        hero=hero,
        hero_on_topic=float(relevant(hero, situation.topic, situation.language)),
        hero_language=float(hero is not None and hero.language == situation.language),
        ndcg=ndcg(reco, pool, situation.topic, situation.language),
        reco=reco_ids,
        reasons=list(shown[0]["reasons"]) if shown else ["no hero"],
        detail=detail,
    )


def run_baselines(situation: Situation, items: Mapping[str, PoolItem],
                  rankers: dict[tuple[str, str], TfidfRanker],
                  rng: np.random.Generator) -> dict[str, Outcome]:  # fmt: skip
    topic, language = situation.topic, situation.language
    heroes = candidates(items, "hero", language)
    recos = candidates(items, "product_reco", language)
    out: dict[str, Outcome] = {}

    on_topic = [relevant(i, topic, language) for i in heroes]
    shuffled = [ndcg([recos[j] for j in rng.permutation(len(recos))], recos, topic, language)
                for _ in range(_RANDOM_SHUFFLES)] if recos else [None]  # fmt: skip
    random_ndcg = None if shuffled[0] is None else float(np.mean([s or 0.0 for s in shuffled]))
    out["random"] = Outcome(hero=None, hero_on_topic=float(np.mean(on_topic)) if heroes else 0.0,
                            hero_language=1.0 if heroes else 0.0, ndcg=random_ndcg)  # fmt: skip

    def ranked_outcome(hero_order: list[PoolItem], reco_order: list[PoolItem]) -> Outcome:
        hero = hero_order[0] if hero_order else None
        return Outcome(
            hero=hero,
            hero_on_topic=float(relevant(hero, topic, language)),
            hero_language=float(hero is not None),
            ndcg=ndcg(list(reco_order), recos, topic, language),
            reco=[i.id for i in reco_order[:RECO_ITEMS]],
        )

    out["priority"] = ranked_outcome(heroes, recos)
    text = visit_text(situation)
    for slot, pool in (("hero", heroes), ("product_reco", recos)):
        rankers.setdefault((slot, language), TfidfRanker(pool))
    out["tf-idf"] = ranked_outcome(rankers[("hero", language)].rank(text),
                                   rankers[("product_reco", language)].rank(text))
    out["tf-idf"].detail = f"text: {text!r}"
    return out


# -- the evaluation ------------------------------------------------------------------------------


@dataclass
class Report:
    """Per-visit outcomes of every system, and what was measured with what."""

    situations: list[Situation]
    outcomes: dict[str, list[Outcome]]
    encoder: str | None
    content_dir: str | None
    dropped_fields: dict[str, int]
    seconds: float
    at: str
    ceiling: list[bool] = field(default_factory=list)  # a hero candidate on topic exists

    def mean(self, system: str, metric: str, keep: Iterable[int] | None = None) -> float | None:
        rows = self.outcomes[system]
        chosen = range(len(rows)) if keep is None else keep
        values = [getattr(rows[i], metric) for i in chosen]
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    def indices(self, predicate: Any) -> list[int]:
        return [i for i, s in enumerate(self.situations) if predicate(s)]

    def summary(self) -> dict[str, Any]:
        topical = self.indices(lambda s: s.topic is not None)
        untopical = self.indices(lambda s: s.topic is None)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(self.situations):
            for signal in s.signals:
                groups[f"signal:{signal}"].append(i)
            if len(s.signals) > 1 and "none" not in s.signals and "session" not in s.signals:
                groups["signal:(mixed)"].append(i)
            groups[f"language:{s.language}"].append(i)
            groups[f"language_by:{s.language_by}"].append(i)
        systems: dict[str, Any] = {}
        for system in SYSTEMS:
            rows = self.outcomes[system]
            systems[system] = {
                "hero_on_topic": self.mean(system, "hero_on_topic"),
                "hero_on_topic_topical": self.mean(system, "hero_on_topic", topical),
                "hero_on_topic_no_topic": self.mean(system, "hero_on_topic", untopical),
                "hero_language": self.mean(system, "hero_language"),
                "ndcg3": self.mean(system, "ndcg"),
                "ndcg3_count": sum(r.ndcg is not None for r in rows),
                "by_group": {
                    name: {"n": len(idx),
                           "hero_on_topic": self.mean(system, "hero_on_topic", idx),
                           "hero_language": self.mean(system, "hero_language", idx)}
                    for name, idx in sorted(groups.items())
                },  # fmt: skip
            }
        return {
            "at": self.at,
            "situations": len(self.situations),
            "topical": len(topical),
            "no_topic": len(untopical),
            "encoder": self.encoder,
            "content_dir": self.content_dir,
            "context_fields_dropped": self.dropped_fields,
            "seconds": round(self.seconds, 1),
            "hero_on_topic_ceiling": float(np.mean(self.ceiling)) if self.ceiling else None,
            "systems": systems,
        }


def bench_settings(encoder: str | None, content_dir: Path | None) -> Settings:
    values: dict[str, Any] = {
        "site_key": SITE["X-API-Key"],
        "admin_key": ADMIN["X-API-Key"],
        "log_json": False,
        "log_level": "WARNING",
        "holdout_share": 0.0,
        "decision_seed": DECISION_SEED,
        "intent_encoder": encoder,
        "intent_model_dir": REPO / ".cache" / f"intent-models-{encoder or 'none'}",
        "lifecycle_sweep_minutes": 0,
        "_env_file": None,
    }
    if content_dir is not None:
        values["content_dir"] = content_dir
    return Settings(**values)


@contextmanager
def running_app(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def evaluate(
    situations: Sequence[Situation],
    *,
    encoder: str | None = "hashing",
    content_dir: Path | None = None,
    progress: Console | None = None,
) -> Report:
    """Send every visit through the app, and let the baselines choose for the same visits."""
    started = time.perf_counter()
    known = context_fields()
    dropped: Counter[str] = Counter()
    outcomes: dict[str, list[Outcome]] = {system: [] for system in SYSTEMS}
    rng = np.random.default_rng(DECISION_SEED)
    rankers: dict[tuple[str, str], TfidfRanker] = {}
    ceiling: list[bool] = []
    settings = bench_settings(encoder, content_dir)
    if progress:
        progress.log(f"starting the app (encoder {encoder})")
    with running_app(settings) as client:
        now = datetime.now(UTC)
        items = live_items(client, now)
        if progress:
            progress.log(f"{len(items)} live items; {len(situations)} situations")
        for index, situation in enumerate(situations):
            outcomes["kairos"].append(run_kairos(client, situation, index, items, known, dropped))
            ceiling.append(any(relevant(i, situation.topic, situation.language)
                               for i in candidates(items, "hero", situation.language)))
            for system, outcome in run_baselines(situation, items, rankers, rng).items():
                outcomes[system].append(outcome)
            if progress and (index + 1) % 25 == 0:
                progress.log(f"{index + 1}/{len(situations)} situations")
    return Report(
        situations=list(situations),
        outcomes=outcomes,
        encoder=encoder,
        content_dir=str(content_dir or settings.content_dir),
        dropped_fields={k: v for k, v in dropped.items()},
        seconds=time.perf_counter() - started,
        at=now.strftime("%Y-%m-%d %H:%M UTC"),
        ceiling=ceiling,
    )


# -- output --------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def render(report: Report, console: Console, *, load: str = "") -> None:
    summary = report.summary()
    dropped = ", ".join(f"{k} ({v} requests)" for k, v in sorted(report.dropped_fields.items()))
    console.print(
        f"Relevance of /v1/decide on the judged set: {summary['situations']} situations "
        f"({summary['topical']} with a topic, {summary['no_topic']} without); "
        f"{report.at}; encoder {report.encoder}; pool {Path(summary['content_dir']).name}"
        + (f"; load {load}" if load else "")
    )
    if dropped:
        console.print(f"context fields the API does not take yet, left out: {dropped}")
    table = Table(title="hero and product_reco per system")
    for column in ("system", "hero on topic", "  with topic", "  without", "hero language",
                   f"nDCG@3 reco (n={summary['systems']['kairos']['ndcg3_count']})"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for system in SYSTEMS:
        s = summary["systems"][system]
        table.add_row(system, _pct(s["hero_on_topic"]), _pct(s["hero_on_topic_topical"]),
                      _pct(s["hero_on_topic_no_topic"]), _pct(s["hero_language"]),
                      "-" if s["ndcg3"] is None else f"{s['ndcg3']:.3f}")  # fmt: skip
    console.print(table)
    console.print(f"ceiling: a hero on topic exists in the pool for "
                  f"{_pct(summary['hero_on_topic_ceiling'])} of the visits")
    groups = Table(title="hero on topic (kairos: also hero language) by group")
    groups.add_column("group")
    groups.add_column("n", justify="right")
    for system in SYSTEMS:
        groups.add_column(system, justify="right")
    groups.add_column("kairos language", justify="right")
    names = summary["systems"]["kairos"]["by_group"]
    for name, cells in names.items():
        groups.add_row(
            name, str(cells["n"]),
            *(_pct(summary["systems"][s]["by_group"][name]["hero_on_topic"]) for s in SYSTEMS),
            _pct(cells["hero_language"]),
        )  # fmt: skip
    console.print(groups)
    console.print(
        "baselines get the labelled language (their language column is 100 % by construction); "
        "random = expectation over the candidates"
    )


def render_misses(report: Report, console: Console) -> None:
    console.rule("kairos: visits whose hero is off topic or in the wrong language")
    for situation, outcome, search in zip(report.situations, report.outcomes["kairos"],
                                          report.outcomes["tf-idf"], strict=True):  # fmt: skip
        if outcome.hero_on_topic and outcome.hero_language:
            continue
        hero = outcome.hero
        shown = (f"{hero.id} [{hero.language}; {', '.join(hero.categories) or 'no categories'}]"
                 if hero else "nothing")  # fmt: skip
        console.print(f"[bold]{situation.id}[/bold] want {situation.topic} / "
                      f"{situation.language} ({', '.join(situation.signals)}, language by "
                      f"{situation.language_by})")  # fmt: skip
        console.print(escape(f"  hero: {shown}; reco: {', '.join(outcome.reco)}"))
        console.print(escape(f"  {outcome.detail}"))
        for reason in outcome.reasons:
            console.print(escape(f"    - {reason}"))
        tf_hero = search.hero.id if search.hero else "nothing"
        console.print(escape(f"  tf-idf would show {tf_hero}; {search.detail}"))


def _load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default="use",
                        help="intent encoder of the app (hashing, use, minilm, use+minilm; "
                             "'none' turns intent off); default use, as the product")  # fmt: skip
    parser.add_argument("--content-dir", type=Path, default=None,
                        help="content pool directory (default: the bundled demo pool)")
    parser.add_argument("--situations", type=Path, default=SITUATIONS)
    parser.add_argument("--verbose", action="store_true", help="list Kairos's misses and why")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON ('-': stdout)")
    parser.add_argument("--no-results", action="store_true",
                        help="do not write bench/results/relevance.txt")
    args = parser.parse_args(argv)
    progress = Console(stderr=True)
    encoder = None if args.encoder in ("", "none") else args.encoder
    load_before = _load_average()
    report = evaluate(load_situations(args.situations), encoder=encoder,
                      content_dir=args.content_dir, progress=progress)  # fmt: skip
    load = f"{load_before} -> {_load_average()}"
    progress.log(f"done in {report.seconds:.1f} s")
    if args.json == "-":
        print(json.dumps(report.summary(), indent=2))
        return 0
    out = Console(record=True, width=140)
    render(report, out, load=load)
    if args.verbose:
        render_misses(report, out)
    if not args.no_results:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(out.export_text(), encoding="utf-8")
    if args.json:
        summary = report.summary()
        summary["load"] = load
        summary["per_situation"] = [
            {"id": s.id, "topic": s.topic, "language": s.language,
             **{system: {k: v for k, v in asdict(report.outcomes[system][i]).items()
                         if k in ("hero_on_topic", "hero_language", "ndcg", "reco")}
                | {"hero": getattr(report.outcomes[system][i].hero, "id", None)}
                for system in SYSTEMS}}
            for i, s in enumerate(report.situations)
        ]  # fmt: skip
        Path(args.json).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
