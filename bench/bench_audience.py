"""Cost of one audience-condition evaluation, as the decision pays it per candidate.

Run: ``.venv/bin/python -m bench.bench_audience [--repeat 20000] [--cel]``.

Each condition is compiled once; the timing is one ``matches(context)`` call on a realistic
audience context (situation keys at the top level, intent, profile with affinities). Prints the
median and p99 in µs per condition.

``--cel`` also times the same conditions written in the Common Expression Language on the CEL
runtimes that happen to be installed (``common-expression-language``, Rust; ``cel-expr-python``,
C++; ``cel-python``, pure Python). They are not dependencies of the project: this is the
evidence behind keeping our own evaluator (see the module docstring of
``content_pool/expressions.py``). For CEL, "per evaluation" includes converting the context,
as the decision hands a fresh dict to each check; the Rust runtime is also timed with a context
built once and reused.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections.abc import Callable
from typing import Any

from content_pool.expressions import compile_expression

CONTEXT: dict[str, Any] = {
    "device": {"type": "mobile", "os": "Android", "browser": "Chrome"},
    "source": {"medium": "email", "name": "newsletter", "term": "Kletterschuhe", "campaign": "s"},
    "language": "de", "country": "DE", "daypart": "evening", "weekday": "friday",
    "returning": True, "phase": "explore", "moment": "know",
    "intent": {"name": "browse", "phase": "explore", "moment": "know"},
    "profile": {"lifecycle": "active", "interests": ["hiking", "camping"],
                "affinities": {"hiking": 0.5, "camping": 0.2, "climbing": 0.1}},
    "segments": ["outdoor_regulars"],
}  # fmt: skip

# (name, today's syntax, the same in CEL where every key is present in CONTEXT)
CONDITIONS: list[tuple[str, str, str]] = [
    ("returning (demo banner)", "returning == true", "returning == true"),
    (
        "device or (demo sidebar)",
        'device.type == "mobile" or device.type == "tablet"',
        'device.type == "mobile" || device.type == "tablet"',
    ),
    (
        "lifecycle in list (demo)",
        'profile.lifecycle in ["at_risk", "lapsed"]',
        'profile.lifecycle in ["at_risk", "lapsed"]',
    ),
    (
        "4 clauses + affinity",
        'device.type == "mobile" and source.medium in ["search", "email"] '
        'and profile.lifecycle != "lapsed" and affinity("hiking") > 0.3',
        'device.type == "mobile" && source.medium in ["search", "email"] '
        '&& profile.lifecycle != "lapsed" && profile.affinities.hiking > 0.3',
    ),
    (
        "affinity or term (demo reco)",
        'affinity("climbing") > 0.2 or contains(lower(source.term), "kletter") '
        'or contains(lower(source.term), "climb")',
        'profile.affinities.climbing > 0.2 || source.term.lowerAscii().contains("kletter") '
        '|| source.term.lowerAscii().contains("climb")',
    ),
]


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and p99 of ``repeat`` calls, in µs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


Build = Callable[[str], Callable[[], object]]


def _rust(module: Any, reuse_context: bool) -> Build:
    shared = module.Context(CONTEXT)

    def build(source: str) -> Callable[[], object]:
        program = module.compile(source)
        if reuse_context:
            return lambda: program.execute(shared)
        return lambda: program.execute(CONTEXT)

    return build


def _cpp(module: Any, strings: Any) -> Build:
    env = module.NewEnv(
        variables={key: module.Type.DYN for key in CONTEXT}, extensions=[strings.ExtStrings()]
    )

    def build(source: str) -> Callable[[], object]:
        expression = env.compile(source)
        return lambda: expression.eval(data=CONTEXT)

    return build


def _pure(module: Any) -> Build:
    env = module.Environment()

    def build(source: str) -> Callable[[], object]:
        program = env.program(env.compile(source))
        return lambda: program.evaluate(module.json_to_cel(CONTEXT))

    return build


def _cel_runtimes() -> dict[str, Build]:
    """Evaluators of CEL source on whichever runtimes are installed."""
    found: dict[str, Build] = {}
    try:
        rust = importlib.import_module("cel")
        found["CEL rust, dict"] = _rust(rust, reuse_context=False)
        found["CEL rust, reused ctx"] = _rust(rust, reuse_context=True)
    except ImportError:
        pass
    try:
        cpp = importlib.import_module("cel_expr_python.cel")
        strings = importlib.import_module("cel_expr_python.ext.ext_strings")
        found["CEL c++, dict"] = _cpp(cpp, strings)
    except ImportError:
        pass
    try:
        found["CEL pure python, dict"] = _pure(importlib.import_module("celpy"))
    except ImportError:
        pass
    return found


def main(repeat: int, cel: bool) -> None:
    print(f"{'engine':<24} {'condition':<30} {'median µs':>10} {'p99 µs':>10}")
    for name, source, _ in CONDITIONS:
        expression = compile_expression(source)
        assert expression.matches(CONTEXT) in (True, False)
        median, p99 = timed(lambda e=expression: e.matches(CONTEXT), repeat)
        print(f"{'kairos':<24} {name:<30} {median:>10.2f} {p99:>10.2f}")
    start = time.perf_counter()
    for _ in range(1000):
        compile_expression(CONDITIONS[3][1])
    compile_us = (time.perf_counter() - start) * 1000
    print(f"{'kairos':<24} {'compile (4 clauses)':<30} {compile_us:>10.2f}")
    if not cel:
        return
    for engine, build in _cel_runtimes().items():
        runs = repeat // 10 if "pure" in engine else repeat
        for name, _, cel_source in CONDITIONS:
            try:
                evaluate = build(cel_source)
                evaluate()
            except Exception as exc:  # a runtime without a function the condition needs
                print(f"{engine:<24} {name:<30} {'unsupported: ' + str(exc)[:40]:>21}")
                continue
            median, p99 = timed(evaluate, runs)
            print(f"{engine:<24} {name:<30} {median:>10.2f} {p99:>10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20000)
    parser.add_argument("--cel", action="store_true", help="also time installed CEL runtimes")
    args = parser.parse_args()
    main(args.repeat, args.cel)
