"""Text helpers of the interest reader: folding, tokens, a light stemmer and edit distance."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# German umlauts are written either way ("Schlafsäcke", "Schlafsaecke"); ß as ss.
_FOLD: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_TOKEN: Final = re.compile(r"[a-z0-9]+")
_DOUBLED: Final = frozenset("bdfgkmnprtz")
# Plural and inflection endings, longest first; what is left must keep three letters.
_ENDINGS: Final = ("en", "es", "e", "s", "n")


def fold(text: str) -> str:
    """Case-fold, spell umlauts as ae/oe/ue and ß as ss, drop other accents (é -> e)."""
    folded = text.casefold().translate(_FOLD)
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """The folded words of ``text``: runs of letters and digits (``-``, ``_``, ``/`` split)."""
    return _TOKEN.findall(fold(text))


def stem(word: str) -> str:
    """A light stemmer for German and English plural and inflection endings.

    ``zelte``, ``zelten``, ``zelts`` -> ``zelt``; ``tents`` -> ``tent``; ``running``, ``runs`` ->
    ``run``; ``wandern`` -> ``wander``; ``hiking``, ``hikes``, ``hike`` -> ``hik``. It conflates
    only forms of one word, never derivations (``wanderung`` stays), and is applied alike to the
    vocabulary and to the text, so the stems need not be words.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ing") and len(word) >= 6:
        base = word[:-3]
        if len(base) >= 3 and base[-1] == base[-2] and base[-1] in _DOUBLED:
            base = base[:-1]  # running -> run, shopping -> shop
        return base
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            if ending == "n" and word[-2] not in "lr":
                continue  # wandern, paddeln; not skin (ski), not mountain
            return word[: -len(ending)]
    return word


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance of ``a`` and ``b`` (a swap of neighbours costs 1).

    Stops early: any distance above ``limit`` is returned as ``limit + 1``.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


def deletions(word: str, depth: int) -> set[str]:
    """Every string made by deleting up to ``depth`` characters from ``word`` (itself included)."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found
