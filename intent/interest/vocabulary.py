"""The taxonomy's words as an index: phrases, words, stems, German compounds, typos, paths.

:class:`Vocabulary` answers "which categories does this text (or URL path) name, and through
which word?" without an encoder, in microseconds once a word has been seen (results are cached
per word). Matching, in order, for each word of the folded text (see :func:`~._text.fold`):

1. a phrase of the taxonomy (``trail running``, ``via ferrata``), compared stem by stem;
2. the word itself or its stem (``Zelte`` = ``zelt``, ``tents`` = ``tent``, ``runs`` = ``run``);
3. a typo of a taxonomy word: edit distance 1 for words of 5 letters or more, 2 from 9 letters,
   the first letter right (people rarely mistype it) and only one category within reach;
4. a German compound with taxonomy words in it (``Fahrradhelm`` = ``fahrrad+helm``,
   ``Damenwanderschuhe`` = ``damen+wander+schuhe``); the last topic word is the head, topics
   in front of it are its modifiers (``Daunenschlafsack``: camping, with winter as a modifier).
   A topic word of five letters or more may stand beside any rest of three letters; a shorter
   one (``zelt``, ``lauf``, ``ski``) only beside a word the vocabulary knows (a topic word or a
   neutral word such as ``schuhe``) or, for four letters, a rest of four letters or more, so
   that ``Verlauf`` or ``Skizze`` name no topic.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from intent.interest._text import deletions, edit_distance, fold, stem, tokens
from intent.interest.models import Method
from intent.interest.taxonomy import Taxonomy

_MIN_FUZZY: Final = 5  # letters for edit distance 1
_MIN_FUZZY_2: Final = 9  # letters for edit distance 2
_MIN_COMPOUND: Final = 6  # a shorter word is not split
_FILE_SUFFIXES: Final = (".html", ".htm", ".php", ".aspx", ".jsp")
_LINKS: Final = ("s", "es", "n", "en")  # German linking elements: Wanderungs|weg


@dataclass(frozen=True, slots=True)
class Match:
    """One category named in a text: the ``matched`` word(s) and the ``method``."""

    category: str
    matched: str
    method: Method


class Vocabulary:
    """Index of a :class:`Taxonomy`'s synonyms, path segments and neutral words.

    Thread-safe; ``cache_size`` bounds the per-word cache (0 disables it).
    """

    def __init__(self, taxonomy: Taxonomy, *, cache_size: int = 50_000) -> None:
        self.taxonomy = taxonomy
        self.cache_size = cache_size
        self._words: dict[str, str] = {}
        self._stems: dict[str, str | None] = {}
        self._phrases: dict[tuple[str, ...], str] = {}
        self._segments: dict[str, str] = {}
        self._neutral: set[str] = set()
        for category in taxonomy.categories:
            for synonym in category.synonyms.all():
                self._add(synonym, category.id)
            for segment in category.path_segments:
                self._segments.setdefault(segment, category.id)
        for word in taxonomy.neutral_words.all():
            for token in tokens(word):
                self._neutral.update((token, stem(token)))
        self._longest_phrase = max((len(p) for p in self._phrases), default=1)
        # Topic words and stems to look for inside compounds, longest first.
        parts = {w: c for w, c in self._words.items() if len(w) >= 3}
        parts.update({s: c for s, c in self._stems.items() if c is not None and len(s) >= 3})
        self._parts = sorted(parts.items(), key=lambda item: (-len(item[0]), item[0]))
        self._typos: dict[str, set[str]] = {}
        for word in self._words:
            if len(word) >= _MIN_FUZZY and word.isalpha():
                depth = 2 if len(word) >= _MIN_FUZZY_2 else 1
                for variant in deletions(word, depth):
                    self._typos.setdefault(variant, set()).add(word)
        self._cache: OrderedDict[str, tuple[Match, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def _add(self, synonym: str, category: str) -> None:
        words = tokens(synonym)
        if not words:
            return
        if len(words) > 1:
            self._phrases.setdefault(tuple(stem(w) for w in words), category)
        joined = "".join(words)
        self._words.setdefault(joined, category)
        key = stem(joined)
        owner = self._stems.setdefault(key, category)
        if owner is not None and owner != category:
            self._stems[key] = None  # a stem two categories share names neither

    def __len__(self) -> int:
        return len(self._words)

    def match_text(self, text: str) -> list[Match]:
        """The categories that ``text`` names, in the order of the words, each word once."""
        return self.match_tokens(tokens(text))

    def match_tokens(self, words: Sequence[str]) -> list[Match]:
        """Like :meth:`match_text` for already folded words."""
        found: list[Match] = []
        used = [False] * len(words)
        if len(words) > 1 and self._phrases:
            stems = [stem(w) for w in words]
            for size in range(min(self._longest_phrase, len(words)), 1, -1):
                for i in range(len(words) - size + 1):
                    if any(used[i : i + size]):
                        continue
                    category = self._phrases.get(tuple(stems[i : i + size]))
                    if category is not None:
                        found.append(Match(category, " ".join(words[i : i + size]), "synonym"))
                        used[i : i + size] = [True] * size
        for i, word in enumerate(words):
            if not used[i]:
                found.extend(self._word(word))
        return found

    def names_nothing(self, text: str) -> bool:
        """Whether ``text`` holds no word that could name a topic: only neutral words
        (``jacke``, ``backpack``), numbers and words of one or two letters."""
        return all(
            len(word) < 3 or word.isdigit() or self._is_neutral(word) for word in tokens(text)
        )

    def match_path(self, path: str) -> list[tuple[str, Match]]:
        """The categories that the segments of a URL path name, with the segment of each.

        A listed path segment matches as ``path``; other segments are split on ``-``, ``_``
        and ``.`` and read as words (``/c/wanderschuhe-damen/`` -> ``wanderschuhe``).
        """
        found: list[tuple[str, Match]] = []
        for raw in path.split("/"):
            segment = fold(raw.strip())
            for suffix in _FILE_SUFFIXES:
                segment = segment.removesuffix(suffix)
            if not segment:
                continue
            category = self._segments.get(segment)
            if category is not None:
                found.append((raw, Match(category, segment, "path")))
                continue
            words = [w for w in tokens(segment) if not w.isdigit()]
            found.extend((raw, match) for match in self.match_tokens(words))
        return found

    def _word(self, word: str) -> tuple[Match, ...]:
        if self.cache_size <= 0:
            return self._read_word(word)
        with self._lock:
            cached = self._cache.get(word)
            if cached is not None:
                self._cache.move_to_end(word)
                return cached
        matches = self._read_word(word)
        with self._lock:
            self._cache[word] = matches
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return matches

    def _read_word(self, word: str) -> tuple[Match, ...]:
        category = self._words.get(word)
        if category is not None:
            return (Match(category, word, "synonym"),)
        if self._is_neutral(word):
            return ()  # "backpack" is not "backpacking"
        category = self._stems.get(stem(word))
        if category is not None:
            return (Match(category, word, "synonym"),)
        if len(word) < _MIN_FUZZY or not word.isalpha():
            return ()
        typo = self._typo(word)
        if typo is not None:
            return (typo,)
        if len(word) >= _MIN_COMPOUND:
            return self._compound(word)
        return ()

    def _is_neutral(self, word: str) -> bool:
        return word in self._neutral or stem(word) in self._neutral

    def _typo(self, word: str) -> Match | None:
        depth = 2 if len(word) >= _MIN_FUZZY_2 else 1
        best: dict[str, tuple[int, str]] = {}
        for variant in deletions(word, depth):
            for candidate in self._typos.get(variant, ()):
                if candidate[0] != word[0]:
                    continue
                limit = 2 if min(len(word), len(candidate)) >= _MIN_FUZZY_2 else 1
                distance = edit_distance(word, candidate, limit)
                if distance > limit:
                    continue
                category = self._words[candidate]
                if category not in best or (distance, candidate) < best[category]:
                    best[category] = (distance, candidate)
        if not best:
            return None
        ranked = sorted(best.items(), key=lambda item: item[1])
        if len(ranked) > 1 and ranked[0][1][0] == ranked[1][1][0]:
            return None  # two topics equally near: not a typo we can read
        category, (_, candidate) = ranked[0]
        return Match(category, f"{word}~{candidate}", "fuzzy")

    def _compound(self, word: str) -> tuple[Match, ...]:
        spans: list[tuple[int, int, str]] = []
        for part, category in self._parts:
            if len(part) >= len(word):
                continue
            start = word.find(part)
            while start != -1:
                end = start + len(part)
                overlaps = any(s < end and start < e for s, e, _ in spans)
                if not overlaps and self._fits(word, start, end, spans):
                    spans.append((start, end, category))
                start = word.find(part, start + 1)
        if not spans:
            return ()
        spans.sort()
        pieces: list[str] = []
        at = 0
        for start, end, _ in spans:
            if start > at:
                pieces.append(word[at:start])
            pieces.append(word[start:end])
            at = end
        if at < len(word):
            pieces.append(word[at:])
        shown = "+".join(pieces)
        # German puts the head last: a Daunenschlafsack is a sleeping bag (camping) made of
        # down (winter); the head's topic is named, the others are its modifiers.
        head = spans[-1][2]
        categories = dict.fromkeys(category for _, _, category in spans)
        return tuple(Match(category, shown, "synonym" if category == head else "modifier")
                     for category in categories)  # fmt: skip

    def _fits(self, word: str, start: int, end: int, spans: Iterable[tuple[int, int, str]]) -> bool:
        size = end - start
        taken = list(spans)
        # the rest up to the next topic word found so far (or the end of the word)
        left_from = max((e for s, e, _ in taken if e <= start), default=0)
        right_to = min((s for s, e, _ in taken if s >= end), default=len(word))
        for side in (word[left_from:start], word[end:right_to]):
            if not side or self._known(side):
                continue
            if size >= 5 and len(side) >= 3:
                continue
            if size == 4 and len(side) >= 4:
                continue
            return False
        return True

    def _known(self, piece: str) -> bool:
        candidates = [piece] + [piece[: -len(link)] for link in _LINKS if piece.endswith(link)]
        return any(
            c in self._words or self._stems.get(stem(c)) is not None or self._is_neutral(c)
            for c in candidates
            if len(c) >= 3
        )
