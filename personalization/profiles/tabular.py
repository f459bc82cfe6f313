"""Records from CSV or JSON Lines arriving as byte chunks: a push parser with bounded memory.

:class:`RecordReader` is fed chunks as they come (a file read piece by piece, an HTTP upload) and
returns complete records with their line number; at most one incomplete record is held. CSV: a
header row, ``,`` ``;`` or tab (detected from the header), quoted fields may span lines, a BOM is
fine, column names are lower-cased with spaces and dashes read as ``_``. JSON Lines: one object
per line. A record that cannot be read becomes a :class:`Rejection` naming its line and why.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from typing import Any, Literal

import orjson

Format = Literal["csv", "jsonl"]
MAX_RECORD_CHARS = 1_000_000
_HEADER_CLEAN = re.compile(r"[\s\-./]+")


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row that was not imported: its line in the file (1-based), its id if known, and why."""

    line: int
    id: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "id": self.id, "reason": self.reason}



Record = tuple[int, dict[str, Any] | Rejection]


class RecordReader:
    """A push parser: :meth:`feed` byte chunks, get back complete records ``(line, row)``.

    ``row`` is a dict (CSV: header -> text; JSON Lines: the object) or a :class:`Rejection` for a
    record that cannot be read. Memory holds one incomplete record at most; a record longer
    than ``max_record_chars`` is rejected and skipped.
    """

    def __init__(self, fmt: Format, *, max_record_chars: int = MAX_RECORD_CHARS) -> None:
        self.fmt = fmt
        self.max_record_chars = max_record_chars
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._tail = ""
        self._line = 0  # physical lines completed so far
        self._pending: list[str] = []
        self._pending_start = 0
        self._pending_chars = 0
        self._quotes = 0
        self._discarding = False
        self.header: list[str] | None = None
        self.delimiter = ","

    def feed(self, data: bytes) -> list[Record]:
        text = self._tail + self._decoder.decode(data)
        lines = text.split("\n")
        self._tail = lines.pop()
        out: list[Record] = []
        for line in lines:
            self._line += 1
            if self._discarding:  # the rest of an over-long line
                self._discarding = False
                continue
            out.extend(self._line_done(line.removesuffix("\r")))
        if len(self._tail) > self.max_record_chars:
            self._tail = ""
            if not self._discarding:
                out.append((self._line + 1, Rejection(self._line + 1, None, "line too long")))
            self._discarding = True
        return out

    def close(self) -> list[Record]:
        out = self.feed(b"")
        final = self._tail + self._decoder.decode(b"", final=True)
        self._tail = ""
        if final and not self._discarding:
            self._line += 1
            out.extend(self._line_done(final.removesuffix("\r")))
        if self._pending:
            out.append((self._pending_start,
                        Rejection(self._pending_start, None, "unterminated quoted field")))
            self._pending = []
        return out

    def _line_done(self, line: str) -> list[Record]:
        if self.fmt == "jsonl":
            return self._json_line(line)
        if not self._pending:
            if not line.strip():
                return []
            self._pending_start = self._line
        self._pending.append(line)
        self._pending_chars += len(line)
        self._quotes += line.count('"')
        if self._quotes % 2:
            if self._pending_chars > self.max_record_chars:
                start = self._pending_start
                self._pending, self._pending_chars, self._quotes = [], 0, 0
                return [(start, Rejection(start, None, "record too long (unbalanced quotes?)"))]
            return []
        text = "\n".join(self._pending)
        start = self._pending_start
        self._pending, self._pending_chars, self._quotes = [], 0, 0
        return self._csv_record(start, text)

    def _json_line(self, line: str) -> list[Record]:
        if not line.strip():
            return []
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            return [(self._line, Rejection(self._line, None, f"not JSON: {exc}"))]
        if not isinstance(value, dict):
            return [(self._line, Rejection(self._line, None, "a line must be a JSON object"))]
        return [(self._line, value)]

    def _csv_record(self, start: int, text: str) -> list[Record]:
        if self.header is None:
            counts = {d: text.count(d) for d in (",", ";", "\t")}
            self.delimiter = max(counts, key=lambda d: counts[d])
            raw = next(csv.reader([text], delimiter=self.delimiter))
            self.header = [_HEADER_CLEAN.sub("_", h.strip().lower()).strip("_") for h in raw]
            return []
        try:
            values = next(csv.reader([text], delimiter=self.delimiter))
        except csv.Error as exc:
            return [(start, Rejection(start, None, f"not CSV: {exc}"))]
        if len(values) != len(self.header):
            return [(start, Rejection(start, None, f"{len(values)} fields, the header has "
                                                   f"{len(self.header)}"))]  # fmt: skip
        return [(start, dict(zip(self.header, values, strict=True)))]
