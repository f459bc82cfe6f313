"""Importing profiles from a CRM export and orders from a shop export, streamed and idempotent.

Both readers take the file as a stream of byte chunks (a file read piece by piece, or an HTTP
upload), parse one record at a time and write in batches, so memory stays bounded whatever the
file size. Every row becomes events with a *deterministic* ``event_id`` and goes through
:meth:`~personalization.store.protocols.ProfileStore.apply`, so re-running an import changes
nothing: rows already applied are reported as ``skipped``. A bad row is rejected with its line
number and the reason, and never stops the good ones.

Formats: CSV (header row; ``,``, ``;`` or tab, detected from the header; UTF-8, a BOM is fine;
quoted fields may span lines) or JSON Lines (one object per line), read by
:class:`personalization.profiles.tabular.RecordReader`. Column names are matched case-insensitively,
spaces and dashes read as ``_``, with the usual aliases.

**Profiles** (a CRM export), one row per customer::

    customer_id,email,first_name,birthday,postcode,language,country,consent_email,created_at
    C-1001,ada@example.com,Ada,1985-12-10,80331,de-DE,DE,yes,2024-03-01T10:00:00Z

``customer_id`` (or ``profile_id``, ``customer_number``, ``kundennummer``, ``id``) is required;
optional: ``first_name``, ``birthday`` (``YYYY-MM-DD`` or ``DD.MM.YYYY``), ``postcode`` (only its
region is kept), ``language``, ``country``, ``timezone``, ``channel_preferences`` (``email|sms``),
``consent_<purpose>`` for personalisation, analytics, email, sms, push (yes/no, true/false,
1/0, ja/nein; empty: not stated), ``updated_at`` / ``created_at`` (when the CRM knew it: a
consent newer in Kairos wins). In JSON Lines ``consents`` may also be an object
``{"email": true}``. E-mail addresses, phone numbers and last names are **not** imported (Kairos
does not need them; data minimisation); other unknown columns are ignored and listed in the
summary. A row becomes a ``profile_update`` event and, when it states consents, a
``consent_update`` event with source ``import``.

**Events** (a shop's order export), one row per order::

    order_id,customer_id,ordered_at,total,currency,items
    O-5001,C-1001,2025-11-02T14:31:00+01:00,129.90,EUR,"[{""sku"":""B-12"",""category"":""boots""}]"

``order_id``, ``customer_id``, ``ordered_at`` and ``total`` (``49.90`` or ``49,90``) are
required; ``currency`` defaults to the importer's; items come from ``items`` (a JSON list of
``{product_id|sku, category, quantity, price}``) or from ``category`` / ``categories``
(``a|b``) with an optional ``product_id``/``sku``. Rows whose ``status`` is cancelled or
refunded are skipped. Each order becomes a ``purchase`` event with ``event_id`` =
``order-<order_id>`` (send live purchases with the same id and they are never counted twice). In
JSON Lines, a line that is already a Kairos event (with ``event_id`` and ``type``) is imported
as it is.

Imports do not call the profile service's listeners: history is not news, so importing last
year's orders must not send this year's order confirmations.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from personalization.clock import Clock, system_clock
from personalization.profiles.document import from_document, to_document
from personalization.profiles.event_parsing import event_document, parse_events
from personalization.profiles.events import Event
from personalization.profiles.import_rows import (
    ORDER_COLUMNS,
    PROFILE_COLUMNS,
    RowError,
    order_row_events,
    profile_row_events,
    row_identifier,
)
from personalization.profiles.profile import ProfilePolicy
from personalization.profiles.reducer import reduce
from personalization.profiles.tabular import Format, Record, RecordReader, Rejection
from personalization.store.protocols import Document, ProfileStore

__all__ = [
    "Format", "ImportSummary", "Importer", "Kind", "Record", "RecordReader", "Rejection",
    "file_chunks", "format_of",
]  # fmt: skip

Kind = Literal["profiles", "events"]
@dataclass
class ImportSummary:
    """What an import did. ``rejections`` keeps the first ``rejections_kept`` only; all of them
    went to the importer's ``on_rejection`` callback (the rejection file)."""

    kind: Kind
    read: int = 0
    valid: int = 0
    """Rows that passed validation (in a dry run, what would be written)."""
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "read": self.read, "valid": self.valid, "created": self.created,
            "updated": self.updated, "skipped": self.skipped, "rejected": self.rejected,
            "rejections": [r.as_dict() for r in self.rejections],
            "ignored_columns": list(self.ignored_columns),
        }  # fmt: skip


# -- the importer ---------------------------------------------------------------------------------
@dataclass
class _Row:
    line: int
    profile_id: str
    events: list[Event]


class Importer:
    """Streams a profiles or events file into the store; see the module docstring.

    >>> importer = Importer(store, policy=ProfilePolicy())
    >>> summary = await importer.run("profiles", file_chunks(path), "csv",
    ...                              on_rejection=write_line)
    """

    def __init__(
        self,
        store: ProfileStore | None,
        *,
        policy: ProfilePolicy | None = None,
        clock: Clock = system_clock,
        batch_size: int = 500,
        rejections_kept: int = 1000,
        default_currency: str = "EUR",
    ) -> None:
        assert batch_size > 0 and rejections_kept >= 0
        self.store = store
        self.policy = policy or ProfilePolicy()
        self.clock = clock
        self.batch_size = batch_size
        self.rejections_kept = rejections_kept
        self.default_currency = default_currency

    async def run(
        self,
        kind: Kind,
        chunks: AsyncIterable[bytes],
        fmt: Format,
        *,
        on_rejection: Callable[[Rejection], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        dry_run: bool = False,
    ) -> ImportSummary:
        """Import every record of ``chunks``; returns the summary.

        ``on_rejection`` is called for every rejected row; ``on_progress(bytes, rows)`` after each
        chunk. With ``dry_run`` rows are only validated (``valid``), nothing is written. Raises
        ``StoreUnavailable`` when the store fails (rows already written stay written; running
        the import again completes it).
        """
        summary = ImportSummary(kind)
        reader = RecordReader(fmt)
        known = PROFILE_COLUMNS if kind == "profiles" else ORDER_COLUMNS
        ignored: dict[str, None] = {}
        batch: list[_Row] = []
        consumed = 0

        def reject(rejection: Rejection) -> None:
            summary.rejected += 1
            if len(summary.rejections) < self.rejections_kept:
                summary.rejections.append(rejection)
            if on_rejection is not None:
                on_rejection(rejection)

        async def handle(records: list[Record]) -> None:
            for line, row in records:
                summary.read += 1
                if isinstance(row, Rejection):
                    reject(row)
                    continue
                if not ("event_id" in row and "type" in row):  # a Kairos event has no extras
                    ignored.update((c, None) for c in row if c not in known)
                parsed = self._row(kind, line, row)
                if isinstance(parsed, Rejection):
                    reject(parsed)
                elif parsed is None:
                    summary.skipped += 1
                else:
                    summary.valid += 1
                    if dry_run:
                        continue
                    batch.append(parsed)
                    if len(batch) >= self.batch_size:
                        await self._flush(batch, summary)
                        batch.clear()

        async for chunk in chunks:
            consumed += len(chunk)
            await handle(reader.feed(chunk))
            if on_progress is not None:
                on_progress(consumed, summary.read)
        await handle(reader.close())
        if batch:
            await self._flush(batch, summary)
        if on_progress is not None:
            on_progress(consumed, summary.read)
        summary.ignored_columns = sorted(ignored)
        return summary

    def _row(self, kind: Kind, line: int, row: Mapping[str, Any]) -> _Row | Rejection | None:
        try:
            if kind == "profiles":
                profile_id, raw = profile_row_events(row)
            else:
                profile_id, raw = order_row_events(row, default_currency=self.default_currency)
        except RowError as exc:
            return Rejection(line, row_identifier(kind, row), str(exc))
        if not raw:
            return None  # nothing to import (a cancelled order)
        events, problems = parse_events(raw, now=self.clock())
        if problems:
            return Rejection(line, profile_id, problems[0].reason)
        return _Row(line, profile_id, events)

    async def _flush(self, rows: Sequence[_Row], summary: ImportSummary) -> None:
        now = self.clock()
        policy = self.policy
        known: dict[str, Event] = {}
        grouped: dict[str, list[Document]] = {}
        for row in rows:
            for event in row.events:
                known[event.event_id] = event
                grouped.setdefault(row.profile_id, []).append(event_document(event))
        created: set[str] = set()

        def reducer(current: Document | None, fresh: Sequence[Document]) -> Document | None:
            if not fresh:
                return None
            events = [known[str(d["event_id"])] for d in fresh]
            subject = str(current["id"]) if current is not None else str(
                events[0].profile_id or events[0].subject
            )
            profile = from_document(current) if current is not None else None
            if current is None:
                created.add(subject)
            else:
                created.discard(subject)  # a retry after a concurrent writer created it
            result = reduce(profile, events, profile_id=subject, now=now, policy=policy)
            return to_document(result.profile)

        assert self.store is not None, "an importer without a store can only do dry runs"
        results = await self.store.apply(list(grouped.items()), reducer)
        applied = {event_id for result in results for event_id in result.applied}
        first_seen: set[str] = set()
        for row in rows:
            if not any(event.event_id in applied for event in row.events):
                summary.skipped += 1
            elif row.profile_id in created and row.profile_id not in first_seen:
                first_seen.add(row.profile_id)
                summary.created += 1
            else:
                summary.updated += 1


async def file_chunks(path: Path, chunk_size: int = 1 << 16) -> AsyncIterator[bytes]:
    """The bytes of ``path`` in chunks (blocking reads of 64 KiB: short enough for a CLI)."""
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def format_of(path: Path | str) -> Format:
    """``csv`` or ``jsonl`` from a file name; raises ``ValueError`` for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ValueError(f"cannot tell the format of {Path(path).name!r}: use .csv or .jsonl "
                     "(or say --format)")  # fmt: skip
