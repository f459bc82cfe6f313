"""The judged set of situations (judged_interests.jsonl) scored with a floor.

Each case holds the signals of one request, the expected topic (or ``null``: none) and, where
two readings are fair, ``accept``. ``split`` (30 % ``held_out``) was fixed by a hash of the case
when the set was written; ``set: paraphrase`` cases name a topic without the taxonomy's words
and are for the semantic fallback. The figures are printed by ``bench/bench_interest.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from intent.encoder import DEFAULT_ENCODER, build_encoder
from intent.interest import InterestReader, InterestSignals, load_taxonomy

JUDGED = Path(__file__).with_name("judged_interests.jsonl")
SIGNALS = set(InterestSignals.__dataclass_fields__) - {"session"}


def cases() -> list[dict[str, Any]]:
    with JUDGED.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def accuracy(reader: InterestReader, chosen: list[dict[str, Any]]) -> float:
    readings = reader.read_batch([InterestSignals(**c["signals"]) for c in chosen])
    right = 0
    for case, interests in zip(chosen, readings, strict=True):
        found = interests[0].category if interests else None
        right += found in (case.get("accept") or [case["expect"]])
    return right / len(chosen)


def test_the_set_is_well_formed() -> None:
    all_cases = cases()
    ids = load_taxonomy().ids
    assert len(all_cases) >= 120
    for case in all_cases:
        assert set(case["signals"]) <= SIGNALS and case["signals"], case
        assert case["expect"] is None or case["expect"] in ids, case
        assert case["lang"] in ("de", "en") and case["split"] in ("tune", "held_out")
        assert all(a is None or a in ids for a in case.get("accept", [])), case
    held_out = sum(c["split"] == "held_out" for c in all_cases) / len(all_cases)
    assert 0.25 <= held_out <= 0.35
    assert {c["lang"] for c in all_cases} == {"de", "en"}
    assert sum(c["expect"] is None for c in all_cases) >= 40  # "unknown" is judged too


@pytest.mark.parametrize("split", ["tune", "held_out"])
def test_vocabulary_alone_reads_the_main_set(split: str) -> None:
    chosen = [c for c in cases() if c["split"] == split and c.get("set") != "paraphrase"]
    assert accuracy(InterestReader(load_taxonomy()), chosen) >= 0.95


@pytest.mark.model
def test_default_encoder_reads_paraphrases_without_losing_the_main_set() -> None:
    # Measured with bench/bench_interest.py: the fallback finds a few paraphrases (chat
    # sentences, site searches) and costs nothing on the main set; it is no large gain.
    taxonomy = load_taxonomy()
    reader = InterestReader(taxonomy, build_encoder(DEFAULT_ENCODER))
    lexical = InterestReader(taxonomy)
    paraphrases = [c for c in cases() if c.get("set") == "paraphrase"]
    main = [c for c in cases() if c.get("set") != "paraphrase"]
    assert accuracy(reader, paraphrases) > accuracy(lexical, paraphrases)
    assert accuracy(reader, main) >= 0.95
