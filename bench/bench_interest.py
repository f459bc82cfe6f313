"""Measure the interest reader: the judged set, real search terms, and its cost per request.

Run from the repository root::

    .venv/bin/python bench/bench_interest.py [--encoder use|hashing|none] [--calibrate]
        [--misses] [--only judged|real|cost]

Progress goes to stderr, the figures to stdout.

- Judged set: ``tests/intent/interest/judged_interests.jsonl``, situations written by hand from
  how people search (search terms, on-site searches, utterances, landing paths, UTM values,
  titles, products, mixed), each with the expected topic or none. A case is right when the
  strongest interest is the expected one (or one of ``accept``), or there is none when none
  is expected. The split (``tune`` / ``held_out``, 30 %) was fixed by a hash of the case when
  the set was written, before any tuning; ``--misses`` lists the misses of ``tune`` only.
  The ``paraphrase`` cases (``"set": "paraphrase"``) name a topic without the taxonomy's
  words; they were added after the first measurement, for the semantic fallback.
- ``--calibrate`` prints, for the encoder and a range of semantic thresholds and margins, the
  accuracy on ``tune`` and the share of calibration search terms (``calibration_search_terms``
  beside the real ones, plus the ESCI terms not among the measured 200; none names a topic)
  that still get one. InterestReader's defaults come from there.
- Real search terms: 200 terms typed by people, from the shared evaluation directory
  (``../shared`` or ``$KAIROS_SHARED_DIR``): ``eval/search_terms/real_search_terms.jsonl``
  (German searches on Berlin's open data portal; English Amazon queries of the ESCI set; see its
  SOURCE file) and the terms of ``eval/referrers/snowplow_referer_tests.jsonl``. Prints the
  share that carries a topic the taxonomy knows and lists those terms (to judge them by eye).
- Cost: median and p99 of ``read`` per request without text (path + UTM) and with a search
  term, with the reader's per-input cache off (every request read anew, the per-word cache
  warm) and on, and what an InterestReader adds to ``SituationReader.read``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from intent.interest import InterestReader, InterestSignals, load_taxonomy  # noqa: E402
from intent.situation import ContextInput, SituationReader  # noqa: E402

SHARED = Path(os.environ.get("KAIROS_SHARED_DIR") or REPO.parent / "shared")
JUDGED = REPO / "tests/intent/interest/judged_interests.jsonl"
REAL = SHARED / "eval/search_terms/real_search_terms.jsonl"
CALIBRATION = SHARED / "eval/search_terms/calibration_search_terms.jsonl"
SNOWPLOW = SHARED / "eval/referrers/snowplow_referer_tests.jsonl"
console = Console(stderr=True)


def load_judged(path: Path = JUDGED) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def signals_of(case: dict[str, Any]) -> InterestSignals:
    return InterestSignals(**case["signals"])


def is_right(case: dict[str, Any], found: str | None) -> bool:
    accept = case.get("accept") or [case["expect"]]
    return found in accept


def score(
    reader: InterestReader, cases: Sequence[dict[str, Any]]
) -> list[tuple[dict[str, Any], str | None]]:
    readings = reader.read_batch([signals_of(c) for c in cases])
    return [(c, r[0].category if r else None) for c, r in zip(cases, readings, strict=True)]


def _accuracy(rows: Sequence[tuple[dict[str, Any], str | None]]) -> str:
    right = sum(is_right(c, f) for c, f in rows)
    return f"{right / len(rows):.1%} ({right}/{len(rows)})" if rows else "n/a"


def bench_judged(reader: InterestReader, label: str, misses: bool) -> None:
    cases = load_judged()
    rows = score(reader, cases)
    tune = [r for r in rows if r[0]["split"] == "tune"]
    held = [r for r in rows if r[0]["split"] == "held_out"]
    print(
        f"judged set [{label}]: all {_accuracy(rows)}, tune {_accuracy(tune)}, "
        f"held-out {_accuracy(held)}"
    )
    for lang in ("de", "en"):
        part = [r for r in rows if r[0]["lang"] == lang]
        print(f"  {lang}: {_accuracy(part)}")
    kinds = sorted({c["kind"] for c in cases})
    print(
        "  by kind: "
        + ", ".join(f"{k} {_accuracy([r for r in rows if r[0]['kind'] == k])}" for k in kinds)
    )
    for name in ("main", "paraphrase"):
        part = [r for r in rows if r[0].get("set", "main") == name]
        print(
            f"  {name}: all {_accuracy(part)}, "
            f"tune {_accuracy([r for r in part if r[0]['split'] == 'tune'])}, "
            f"held-out {_accuracy([r for r in part if r[0]['split'] == 'held_out'])}"
        )
    if misses:
        for case, found in tune:
            if not is_right(case, found):
                print(f"  miss (tune): {case['signals']} expected {case['expect']} got {found}")


def calibration_negatives() -> list[str]:
    """Search terms that name no topic and are not among the measured 200 (see the SOURCE)."""
    with CALIBRATION.open(encoding="utf-8") as fh:
        german = [json.loads(line)["term"] for line in fh if line.strip()]
    with REAL.open(encoding="utf-8") as fh:
        english = [json.loads(line) for line in fh if line.strip()]
    measured = {term for term, _ in real_terms()}
    return german + [r["term"] for r in english if r["term"] not in measured]


def calibrate(encoder: Any) -> None:
    """Grid of threshold x margin: tune accuracy, and topics given to the calibration terms
    typed into the shop's search box (a signal the fallback reads by default)."""
    taxonomy = load_taxonomy()
    cases = [c for c in load_judged() if c["split"] == "tune"]
    negatives = [InterestSignals(site_search=t) for t in calibration_negatives()]
    for threshold in (0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        for margin in (0.05, 0.1, 0.15, 0.2):
            reader = InterestReader(
                taxonomy,
                encoder,
                semantic_threshold=threshold,
                semantic_margin=margin,
                cache_size=0,
            )
            readings = reader.read_batch([signals_of(c) for c in cases])
            rows = [(c, r[0].category if r else None) for c, r in zip(cases, readings, strict=True)]
            semantic = [
                (c, r)
                for c, r in zip(cases, readings, strict=True)
                if r and r[0].evidence[0].method == "semantic"
            ]
            right = sum(is_right(c, r[0].category) for c, r in semantic)
            false = sum(1 for r in reader.read_batch(negatives) if r)
            print(
                f"calibrate threshold {threshold:.2f} margin {margin:.2f}: tune {_accuracy(rows)},"
                f" top read semantically {len(semantic)} (right {right});"
                f" topic for {false}/{len(negatives)} = {false / len(negatives):.1%}"
                " of the calibration terms"
            )


def real_terms(limit: int = 200) -> list[tuple[str, str]]:
    terms: list[tuple[str, str]] = []
    with SNOWPLOW.open(encoding="utf-8") as fh:
        for line in fh:
            term = (json.loads(line).get("term") or "").strip()
            if term and term != "test" and (term, "snowplow") not in terms:
                terms.append((term, "snowplow"))
    with REAL.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    german = [(r["term"], r["source"]) for r in rows if r["lang"] == "de"]
    english = [(r["term"], r["source"]) for r in rows if r["lang"] == "en"]
    terms += german
    terms += english[: max(0, limit - len(terms))]
    return terms[:limit]


def bench_real(reader: InterestReader, label: str) -> None:
    terms = real_terms()
    readings = reader.read_batch([InterestSignals(search_term=t) for t, _ in terms])
    known = [(t, s, r) for (t, s), r in zip(terms, readings, strict=True) if r]
    print(
        f"real search terms [{label}]: {len(known)}/{len(terms)} = {len(known) / len(terms):.1%} "
        "carry a known topic"
    )
    for source in ("snowplow", "berlin_dataportal", "esci"):
        part = [t for t in terms if t[1] == source]
        hit = [k for k in known if k[1] == source]
        print(f"  {source}: {len(hit)}/{len(part)}")
    for term, source, interests in known:
        evidence = interests[0].evidence[0]
        print(
            f"  {source}: {term!r} -> {interests[0].category} "
            f"({evidence.method}: {evidence.matched})"
        )


def _timings(read: Callable[[Any], object], inputs: Sequence[Any], rounds: int) -> list[float]:
    """Milliseconds of ``read(x)`` for each input, ``rounds`` times over."""
    out = []
    for _ in range(rounds):
        for item in inputs:
            start = time.perf_counter()
            read(item)
            out.append((time.perf_counter() - start) * 1e3)
    return out


def _summary(samples: list[float]) -> str:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return f"median {statistics.median(samples):.4f} ms, p99 {p99:.4f} ms"


def bench_cost(encoder: Any) -> None:
    taxonomy = load_taxonomy()
    cases = load_judged()
    paths = [c["signals"].get("landing_path") or "/de/" for c in cases]
    campaigns = [c["signals"].get("utm_campaign") or "newsletter" for c in cases]
    terms = [c["signals"].get("search_term") or "zelt" for c in cases]
    no_text = [
        InterestSignals(landing_path=p, utm_campaign=c, utm_content="hero")
        for p, c in zip(paths, campaigns, strict=True)
    ]
    with_text = [
        InterestSignals(search_term=t, landing_path=p) for t, p in zip(terms, paths, strict=True)
    ]
    for cached in (False, True):
        reader = InterestReader(taxonomy, encoder, cache_size=10_000 if cached else 0)
        label = "cache on " if cached else "cache off"
        for name, batch in (("path+UTM, no text", no_text), ("search term + path", with_text)):
            _timings(reader.read, batch, 1)  # warm the per-word cache (and the encoder's)
            samples = _timings(reader.read, batch, 20)
            print(f"cost [{label}] {name}: {_summary(samples)} over {len(samples)} reads")
    inner = getattr(encoder, "inner", None)
    if inner is not None:  # the encoder without its cache: each text embedded anew
        reader = InterestReader(taxonomy, inner, cache_size=0)
        samples = _timings(reader.read, with_text, 3)
        print(f"cost [no caches, encoder {inner.name}] search term + path: {_summary(samples)}")
    urls = [
        f"https://shop.example{p}?utm_campaign={c}" for p, c in zip(paths, campaigns, strict=True)
    ]
    contexts = [ContextInput(url=u, referrer="https://www.google.de/") for u in urls]
    plain = SituationReader(internal_hosts=["shop.example"])
    with_interests = SituationReader(
        internal_hosts=["shop.example"], interests=InterestReader(taxonomy, cache_size=0)
    )
    base: list[float] = []
    more: list[float] = []
    _timings(plain.read, contexts, 1)
    _timings(with_interests.read, contexts, 1)
    for _ in range(20):  # interleaved, so that the machine's load falls on both alike
        base += _timings(plain.read, contexts, 1)
        more += _timings(with_interests.read, contexts, 1)
    print(f"SituationReader.read (path+UTM) without interests: {_summary(base)}")
    print(
        f"SituationReader.read (path+UTM) with interests, cache off: {_summary(more)}; adds "
        f"{statistics.median(more) - statistics.median(base):.4f} ms at the median"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="none", help="none, hashing or use (default none)")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list the misses of the tune split")
    parser.add_argument("--only", choices=("judged", "real", "cost"))
    args = parser.parse_args(argv)
    encoder = None
    if args.encoder != "none":
        from intent.encoder import build_encoder

        console.print(f"loading encoder {args.encoder} ...")
        encoder = build_encoder(args.encoder)
    taxonomy = load_taxonomy()
    reader = InterestReader(taxonomy, encoder)
    label = f"encoder {args.encoder}"
    print(
        f"# bench_interest {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load {os.getloadavg()[0]:.2f}"
    )
    if args.calibrate and encoder is not None:
        console.print("calibrating ...")
        calibrate(encoder)
    if args.only in (None, "judged"):
        console.print("judged set ...")
        bench_judged(reader, label, args.misses)
    if args.only in (None, "real"):
        if not REAL.exists():
            console.print(f"[red]no {REAL}; set KAIROS_SHARED_DIR[/red]")
        else:
            console.print("real search terms ...")
            bench_real(reader, label)
    if args.only in (None, "cost"):
        console.print("cost ...")
        bench_cost(encoder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
