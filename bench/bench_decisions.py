"""Simulated visitors, four ways to choose content, and how close each gets to the oracle.

A seeded population of visitors with a latent phase, moment, device, language and interests
meets a pool of hero items. Each item serves one phase, one moment and one category, some suit
mobile visitors, and each has a hidden quality; a quarter of the items carry a wrong phase label
in the pool (the marketer was mistaken), which only learning can correct. The click probability
of an item for a visitor depends on how well it fits (see :func:`click_probability`).

What a policy observes, the same for VW and Kairos:
- device and language (from the User-Agent and Accept-Language, read by the SituationReader);
- phase and moment as an intent model would report them, only for visitors who typed a search
  or an utterance (70 %), each right with probability 0.85;
- interests from the profile, only for known visitors with personalisation consent (40 %);
- the item's labels (phase, moment, category, device, id).

Policies compared over the same visitor sequence:
- ``random``: a uniform pick among the items of the visitor's language;
- ``static``: the single item per language with the best average click probability, in hindsight;
- ``vw``: Vowpal Wabbit ``--cb_explore_adf`` (epsilon-greedy, quadratic interactions of visitor
  and item features), learning online from the same clicks;
- ``kairos``: :class:`personalization.decisions.decider.Decider` end to end (situation reader,
eligibility,
  fit ranking, Thompson sampling on shared counters, rendering, decision log, feedback);
- ``oracle``: the best item for each visitor, knowing the latent state.

CTR is the expected CTR (the mean click probability of what was shown), which removes the noise
of the simulated clicks from the comparison; the clicks that feed learning are sampled.

Usage::

    .venv/bin/python -m bench.bench_decisions --decisions 20000 --seed 7
    .venv/bin/python -m bench.bench_decisions --latency [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from content_pool.models import MOMENTS, PHASES, ContentDraft
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import MemoryContentStore
from intent.situation.reader import SituationReader
from personalization.decisions.decider import Decider, DeciderParts
from personalization.decisions.holdout import Holdout
from personalization.decisions.models import DecisionProfile, DecisionRequest
from personalization.decisions.policies import ThompsonSampling, create_rng, make_policy
from personalization.decisions.ranking import FeatureIndex
from personalization.store.memory_store import MemoryStore

RESULTS = Path(__file__).resolve().parent / "results"
CATEGORIES = ("hiking", "running", "climbing", "camping", "cycling", "skiing")
LANGUAGES = ("de", "en")
PHASE_MOMENTS = {
    "explore": ("know", "go"),
    "consider": ("know", "do"),
    "purchase": ("buy", "go"),
    "use": ("do", "service"),
    "churn": ("problem", "service"),
}
UA = {
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/120.0.0.0 Safari/537.36",
}
VW_ARGS = "--cb_explore_adf --squarecb -q UA"
"""VW's best of the configurations tried (epsilon 0.05 with ips/dr/mtr, regcb, cover, squarecb)."""
console = Console(width=150)


@dataclass(frozen=True)
class SimItem:
    id: str
    language: str
    phase: str  # what it really serves
    label_phase: str  # what the pool says
    moment: str
    category: str
    mobile: bool
    quality: float


@dataclass(frozen=True)
class Visitor:
    index: int
    phase: str
    moment: str
    device: str
    language: str
    interests: tuple[str, ...]
    seen_phase: str | None  # what the intent model reports (None without text)
    seen_moment: str | None
    consented: bool


def make_items(rng: np.random.Generator, per_language: int) -> list[SimItem]:
    items = []
    for language in LANGUAGES:
        for n in range(per_language):
            phase = PHASES[n % len(PHASES)]
            moment = PHASE_MOMENTS[phase][int(rng.integers(2))]
            wrong = rng.random() < 0.25
            label = str(rng.choice([p for p in PHASES if p != phase])) if wrong else phase
            items.append(
                SimItem(
                    id=f"hero-{language}-{n:03d}",
                    language=language,
                    phase=phase,
                    label_phase=label,
                    moment=moment,
                    category=CATEGORIES[int(rng.integers(len(CATEGORIES)))],
                    mobile=bool(rng.random() < 0.3),
                    quality=float(rng.uniform(0.6, 1.4)),
                )
            )
    return items


def make_visitors(rng: np.random.Generator, n: int) -> list[Visitor]:
    phase_p = np.asarray([0.3, 0.3, 0.2, 0.12, 0.08])
    visitors = []
    for i in range(n):
        phase = str(rng.choice(PHASES, p=phase_p))
        moment = PHASE_MOMENTS[phase][0 if rng.random() < 0.7 else 1]
        k = 1 + int(rng.random() < 0.4)
        interests = tuple(str(c) for c in rng.choice(CATEGORIES, size=k, replace=False))
        has_text = rng.random() < 0.7
        seen_phase = seen_moment = None
        if has_text:
            seen_phase = phase if rng.random() < 0.85 else str(rng.choice(PHASES))
            seen_moment = moment if rng.random() < 0.85 else str(rng.choice(MOMENTS))
        visitors.append(
            Visitor(
                index=i,
                phase=phase,
                moment=moment,
                device="mobile" if rng.random() < 0.6 else "desktop",
                language="de" if rng.random() < 0.7 else "en",
                interests=interests,
                seen_phase=seen_phase,
                seen_moment=seen_moment,
                consented=bool(rng.random() < 0.4),
            )
        )
    return visitors


def click_probability(item: SimItem, visitor: Visitor) -> float:
    """The simulated truth: fit to phase, moment, interests and device, times quality."""
    fit = (
        0.10 * (item.phase == visitor.phase)
        + 0.06 * (item.moment == visitor.moment)
        + 0.07 * (item.category in visitor.interests)
        + 0.03 * (item.mobile and visitor.device == "mobile")
    )
    return min(0.95, 0.01 + item.quality * fit)


def to_draft(item: SimItem) -> ContentDraft:
    return ContentDraft.model_validate(
        {
            "id": item.id,
            "title": f"{item.category} for {item.label_phase}",
            "slot": "hero",
            "channel": "web",
            "language": item.language,
            "template": "<h1>{{ item.title }}</h1>{% if first_name %}<p>{{ first_name }}</p>"
            "{% endif %}",
            # The simulated marketer's labels are guesses (a share is wrong): preferences that
            # rank, not requirements that exclude.
            "targeting": {
                "phases": [item.label_phase],
                "moments": [item.moment],
                "categories": [item.category],
                "prefer": True,
            },
            "tags": ["mobile"] if item.mobile else [],
            "priority": 50,
            "status": "live",
        }
    )


# -- what the decider is given: an intent model and profiles that report the simulation --------


@dataclass(frozen=True)
class _Scored:
    name: str
    confidence: float


@dataclass(frozen=True)
class _Prediction:
    intent: _Scored
    phase: _Scored
    moment: _Scored
    out_of_scope: bool = False


class SimulatedIntent:
    """Reports the (noisy) phase and moment the simulation observed for the visitor's text."""

    def __init__(self, visitors: Sequence[Visitor]) -> None:
        self._by_text = {f"visitor {v.index} says something": v for v in visitors}

    def predict(
        self,
        texts: Sequence[str],
        *,
        langs: Sequence[str | None] | None = None,
        situations: Sequence[object | None] | None = None,
    ) -> list[_Prediction]:
        out = []
        for text in texts:
            v = self._by_text[text]
            out.append(
                _Prediction(
                    intent=_Scored("unknown", 0.0),
                    phase=_Scored(v.seen_phase or "unknown", 0.85),
                    moment=_Scored(v.seen_moment or "unknown", 0.85),
                )
            )
        return out


class SimulatedProfiles:
    """Consented visitors' interests as affinities; ``None`` for the others."""

    def __init__(self, visitors: Sequence[Visitor]) -> None:
        self._visitors = {f"p{v.index}": v for v in visitors}

    async def profile_for_decision(self, profile_id: str) -> DecisionProfile | None:
        v = self._visitors.get(profile_id)
        if v is None or not v.consented:
            return None
        return DecisionProfile(
            profile_id=profile_id,
            lifecycle="active",
            affinities={c: 1.0 for c in v.interests},
        )


# -- the policies ---------------------------------------------------------------------------------


def run_random(items_by_lang: dict[str, list[SimItem]], visitors: Sequence[Visitor],
               rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    return np.asarray(
        [
            click_probability(pool[int(rng.integers(len(pool)))], v)
            for v in visitors
            for pool in (items_by_lang[v.language],)
        ]
    )


def run_static(items_by_lang: dict[str, list[SimItem]], visitors: Sequence[Visitor]) -> np.ndarray:
    best = {}
    for language, pool in items_by_lang.items():
        mine = [v for v in visitors if v.language == language]
        means = [np.mean([click_probability(item, v) for v in mine]) for item in pool]
        best[language] = pool[int(np.argmax(means))]
    return np.asarray([click_probability(best[v.language], v) for v in visitors])


def run_oracle(items_by_lang: dict[str, list[SimItem]], visitors: Sequence[Visitor]) -> np.ndarray:
    return np.asarray(
        [max(click_probability(item, v) for item in items_by_lang[v.language]) for v in visitors]
    )


_PHASE_PRIOR: dict[str, float] = dict(zip(PHASES, (0.3, 0.3, 0.2, 0.12, 0.08), strict=True))
_INTEREST_PRIOR = 0.6 * 1 / len(CATEGORIES) + 0.4 * 2 / len(CATEGORIES)


def _seen_likelihood(seen: str | None, true: str, options: int) -> float:
    if seen is None:
        return 1.0
    return 0.85 * (seen == true) + 0.15 / options


def expected_click_probability(item: SimItem, v: Visitor) -> float:
    """E[click | what a policy can observe], by Bayes over the latent phase and moment."""
    joint: dict[tuple[str, str], float] = {}
    for phase, moments in PHASE_MOMENTS.items():
        for moment, p_moment in zip(moments, (0.7, 0.3), strict=True):
            joint[(phase, moment)] = (
                _PHASE_PRIOR[phase] * p_moment
                * _seen_likelihood(v.seen_phase, phase, len(PHASES))
                * _seen_likelihood(v.seen_moment, moment, len(MOMENTS))
            )  # fmt: skip
    total = sum(joint.values())
    p_phase = sum(w for (ph, _), w in joint.items() if ph == item.phase) / total
    p_moment = sum(w for (_, mo), w in joint.items() if mo == item.moment) / total
    p_interest = float(item.category in v.interests) if v.consented else _INTEREST_PRIOR
    fit = (
        0.10 * p_phase
        + 0.06 * p_moment
        + 0.07 * p_interest
        + 0.03 * (item.mobile and v.device == "mobile")
    )
    return 0.01 + item.quality * fit


def run_observable_oracle(items_by_lang: dict[str, list[SimItem]], visitors: Sequence[Visitor]
                          ) -> np.ndarray:  # fmt: skip
    """The best any policy can do on the observed features: Bayes-optimal given them."""
    out = []
    for v in visitors:
        pool = items_by_lang[v.language]
        best = max(pool, key=lambda item: expected_click_probability(item, v))
        out.append(click_probability(best, v))
    return np.asarray(out)


def _vw_shared(v: Visitor) -> str:
    interests = " ".join(f"i_{c}" for c in v.interests) if v.consented else "i_none"
    return (
        f"shared |U phase_{v.seen_phase or 'unknown'} moment_{v.seen_moment or 'unknown'} "
        f"device_{v.device} lang_{v.language} {interests}"
    )


def _vw_action(item: SimItem) -> str:
    return (
        f"|A id_{item.id} phase_{item.label_phase} moment_{item.moment} cat_{item.category} "
        f"mobile_{int(item.mobile)}"
    )


def run_vw(items_by_lang: dict[str, list[SimItem]], visitors: Sequence[Visitor],
           rng: np.random.Generator, progress: Progress) -> np.ndarray:  # fmt: skip
    import vowpalwabbit

    vw = vowpalwabbit.Workspace(f"{VW_ARGS} --quiet --random_seed 7", enable_logging=False)
    task = progress.add_task("vw", total=len(visitors))
    out = np.empty(len(visitors))
    for t, v in enumerate(visitors):
        pool = items_by_lang[v.language]
        lines = [_vw_shared(v)] + [_vw_action(item) for item in pool]
        pmf = np.asarray(vw.predict("\n".join(lines)), dtype=np.float64)
        pmf /= pmf.sum()
        chosen = int(rng.choice(len(pool), p=pmf))
        p = click_probability(pool[chosen], v)
        out[t] = p
        clicked = rng.random() < p
        labelled = list(lines)
        labelled[chosen + 1] = f"0:{-1.0 if clicked else 0.0}:{pmf[chosen]} {lines[chosen + 1]}"
        vw.learn("\n".join(labelled))
        progress.advance(task)
    vw.finish()
    return out


async def run_kairos(items: Sequence[SimItem], visitors: Sequence[Visitor],
                     rng: np.random.Generator, progress: Progress, *, seed: int,
                     context_features: tuple[str, ...], options: dict[str, Any]
                     ) -> np.ndarray:  # fmt: skip
    content = MemoryContentStore()
    for item in items:
        await content.put(to_draft(item), expected_version=0)
    pool = ContentPool(content)
    await pool.refresh()
    by_id = {item.id: item for item in items}
    decider = Decider(DeciderParts(
        pool,
        MemoryStore(max_decisions=50_000),
        renderer=Renderer(),
        policy=make_policy(
            ThompsonSampling(context_features=context_features, **options), create_rng(seed)
        ),
        features=FeatureIndex(None),
        situation_reader=SituationReader(),
        intent=SimulatedIntent(visitors),
        profiles=SimulatedProfiles(visitors),
        holdout=Holdout(0.0),
    ))
    now = datetime(2026, 6, 6, 10, tzinfo=UTC)
    task = progress.add_task(f"kairos {'+'.join(context_features)}", total=len(visitors))
    out = np.empty(len(visitors))
    for t, v in enumerate(visitors):
        request = DecisionRequest(
            session_id=f"s{v.index}",
            profile_id=f"p{v.index}",
            slots=["hero"],
            context={"user_agent": UA[v.device], "accept_language": v.language},
            text=f"visitor {v.index} says something" if v.seen_phase else None,
        )
        decision = await decider.decide(request, now + timedelta(seconds=t))
        shown = decision.slots["hero"][0].item_id
        p = click_probability(by_id[shown], v)
        out[t] = p
        if rng.random() < p:
            await decider.feedback(decision.decision_id, shown, "click")
        progress.advance(task)
    return out


def cumulative(values: np.ndarray) -> np.ndarray:
    ctr: np.ndarray = np.cumsum(values) / np.arange(1, len(values) + 1)
    return ctr


def plot(curves: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), cumulative(values), label=name)
    ax.set_xlabel("decisions")
    ax.set_ylabel("cumulative expected CTR")
    ax.set_title("Simulated visitors: cumulative CTR by policy")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- latency -------------------------------------------------------------------------------------


async def _latency_case(pool_size: int, placements: int, backend: str, redis_url: str,
                        n: int, progress: Progress) -> dict[str, float]:  # fmt: skip
    """Median and p99 of ``Decider.decide`` (two slots, a consented profile, text half the time)."""
    import time
    import uuid

    from intent.encoder import HashingEncoder
    from personalization.decisions.decider import ConsentedProfiles
    from personalization.profiles.event_parsing import parse_event
    from personalization.profiles.service import ProfileService
    from personalization.store.redis_client import connect
    from personalization.store.redis_store import RedisStore

    slots = [f"s{j}" for j in range(max(1, placements // 2))]
    content = MemoryContentStore()
    rng = np.random.default_rng(0)
    for i in range(pool_size):
        phase = PHASES[i % len(PHASES)]
        await content.put(
            ContentDraft.model_validate(
                {
                    "id": f"item-{i}",
                    "title": f"{CATEGORIES[i % len(CATEGORIES)]} {phase} offer {i}",
                    "slot": slots[(i // 2) % len(slots)],
                    "channel": "web",
                    "language": LANGUAGES[i % 2],
                    "template": "<h2>{{ item.title }}</h2>{% if first_name %}<p>Hallo "
                    "{{ first_name }}</p>{% endif %}",
                    "targeting": {
                        "phases": [phase],
                        "moments": [PHASE_MOMENTS[phase][i % 2]],
                        "categories": [CATEGORIES[i % len(CATEGORIES)]],
                        "prefer": True,
                    },
                    "priority": int(rng.integers(0, 100)),
                    "status": "live",
                }
            ),
            expected_version=0,
        )
    pool = ContentPool(content)
    await pool.refresh()
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    store: MemoryStore | RedisStore = (
        MemoryStore(max_decisions=n + 1000)
        if backend == "memory"
        else RedisStore(connect(redis_url), prefix=prefix)
    )
    profiles = ProfileService(store)
    for k in range(50):
        await profiles.ingest([
            parse_event({"type": "profile_update", "event_id": f"a{k}", "profile_id": f"p{k}",
                         "properties": {"first_name": "Alex"}}),
            parse_event({"type": "page_view", "event_id": f"b{k}", "profile_id": f"p{k}",
                         "properties": {"category": CATEGORIES[k % len(CATEGORIES)]}}),
            parse_event({"type": "consent_update", "event_id": f"c{k}", "profile_id": f"p{k}",
                         "properties": {"consents": {"personalisation": True}}}),
        ])  # fmt: skip
    decider = Decider(DeciderParts(
        pool,
        store,
        renderer=Renderer(),
        policy=make_policy("thompson", create_rng(0)),
        features=FeatureIndex(HashingEncoder(dim=512)),
        situation_reader=SituationReader(),
        profiles=ConsentedProfiles(profiles),
        holdout=Holdout(0.1),
    ))
    decider.warm(datetime.now(UTC))
    task = progress.add_task(f"latency {backend} {pool_size}/{placements}", total=n + 200)
    timings = []
    try:
        for t in range(n + 200):
            request = DecisionRequest(
                session_id=f"s{t}",
                profile_id=f"p{t % 50}" if t % 3 else None,
                slots=slots[:2],
                context={"user_agent": UA["mobile" if t % 2 else "desktop"],
                         "accept_language": "de-DE" if t % 4 else "en-US"},
                text="wasserdichte wanderschuhe" if t % 2 else None,
            )  # fmt: skip
            start = time.perf_counter()
            await decider.decide(request, datetime.now(UTC))
            if t >= 200:
                timings.append((time.perf_counter() - start) * 1000)
            progress.advance(task)
    finally:
        if isinstance(store, RedisStore):
            keys = [k async for k in store.redis.scan_iter(match=f"{prefix}:*", count=1000)]
            for start_at in range(0, len(keys), 500):
                await store.redis.delete(*keys[start_at : start_at + 500])
        await store.close()
    values = np.asarray(timings)
    return {
        "median_ms": round(float(np.median(values)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "items_per_placement": pool_size // placements,
    }


def latency(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Decide latency in-process")
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    cases = [(50, 10), (5000, 10), (5000, 1000)]
    results: dict[str, Any] = {}
    table = Table(title="Decider.decide in-process: 2 slots, text half the time, 2/3 profiles")
    for column in ("store", "pool", "placements", "items/placement", "median ms", "p99 ms"):
        table.add_column(column, justify="right")
    with Progress(console=console) as progress:
        for backend in ("memory", "redis"):
            for size, placements in cases:
                figures = asyncio.run(
                    _latency_case(size, placements, backend, args.redis_url, args.n, progress)
                )
                results[f"{backend}/{size}/{placements}"] = figures
                table.add_row(backend, str(size), str(placements),
                              str(figures["items_per_placement"]), f"{figures['median_ms']:.2f}",
                              f"{figures['p99_ms']:.2f}")  # fmt: skip
    console.print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decide_latency.json").write_text(json.dumps(results, indent=2))
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=30, help="items per language")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--context", default="phase,moment", help="bandit context features (factorised)"
    )
    parser.add_argument("--only-kairos", action="store_true")
    parser.add_argument(
        "--policy",
        default="{}",
        help="ThompsonSampling options as JSON (default: the product's defaults)",
    )
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    items = make_items(rng, args.items)
    visitors = make_visitors(rng, args.decisions)
    items_by_lang = {lang: [i for i in items if i.language == lang] for lang in LANGUAGES}

    curves: dict[str, np.ndarray] = {}
    with Progress(console=console) as progress:
        curves["oracle"] = run_oracle(items_by_lang, visitors)
        curves["observable oracle"] = run_observable_oracle(items_by_lang, visitors)
        curves["random"] = run_random(items_by_lang, visitors, np.random.default_rng(args.seed))
        curves["static best"] = run_static(items_by_lang, visitors)
        if not args.only_kairos:
            curves["vw cb_explore_adf"] = run_vw(
                items_by_lang, visitors, np.random.default_rng(args.seed + 1), progress
            )
        curves["kairos"] = asyncio.run(
            run_kairos(items, visitors, np.random.default_rng(args.seed + 2), progress,
                       seed=args.seed, context_features=tuple(args.context.split(",")),
                       options=json.loads(args.policy))
        )  # fmt: skip

    oracle, observable = curves["oracle"], curves["observable oracle"]
    half = min(10_000, len(oracle))
    figures: dict[str, Any] = {"decisions": len(oracle), "seed": args.seed, "policies": {}}
    table = Table(title=f"{len(oracle)} simulated decisions (expected CTR)")
    columns = ("policy", "CTR", "% oracle", "% observable oracle", f"CTR first {half}",
               "% obs. oracle first", "CTR last 5k")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for name, values in curves.items():
        ctr, first = float(values.mean()), float(values[:half].mean())
        last = float(values[-5000:].mean())
        ratio = ctr / float(oracle.mean())
        ratio_obs = ctr / float(observable.mean())
        ratio_obs_first = first / float(observable[:half].mean())
        figures["policies"][name] = {
            "ctr": round(ctr, 5),
            "ratio_to_oracle": round(ratio, 4),
            "ratio_to_observable_oracle": round(ratio_obs, 4),
            f"ctr_first_{half}": round(first, 5),
            f"ratio_to_observable_oracle_first_{half}": round(ratio_obs_first, 4),
            "ctr_last_5000": round(last, 5),
            "ratio_to_observable_oracle_last_5000": round(
                last / float(observable[-5000:].mean()), 4
            ),
        }
        table.add_row(name, f"{ctr:.4f}", f"{ratio:.1%}", f"{ratio_obs:.1%}", f"{first:.4f}",
                      f"{ratio_obs_first:.1%}", f"{last:.4f}")  # fmt: skip
    console.print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(curves, args.out / "decisions_ctr.png")
    (args.out / "decisions.json").write_text(json.dumps(figures, indent=2))
    console.print(f"wrote {args.out / 'decisions_ctr.png'} and {args.out / 'decisions.json'}")
    return figures


if __name__ == "__main__":
    import sys

    if "--latency" in sys.argv:
        latency()
    else:
        main()
