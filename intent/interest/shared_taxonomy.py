"""The taxonomy the marketer owns, kept in a shared store so every worker reads the same one.

:class:`SharedTaxonomy` keeps one document (kind ``taxonomy``, name ``current``) in a
:class:`TaxonomyDocuments` store (the service passes its definitions store). At start
:meth:`~SharedTaxonomy.load` seeds the store from a YAML file when it holds none; later loads
pick up what another worker stored. :meth:`~SharedTaxonomy.replace` validates, refuses to drop
categories that live content still names (``usage``), stores, and hands the new taxonomy to
the readers at once.

Example::

    shared = SharedTaxonomy(definitions, seed=load_taxonomy(), readers=[interest_reader])
    await shared.load()                      # the stored one, or the seed stored
    await shared.replace(new_taxonomy)       # stored, and the readers see it
    shared.current.ids
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Protocol

from intent.errors import TaxonomyInUse
from intent.interest.reader import InterestReader
from intent.interest.taxonomy import Taxonomy, parse_taxonomy

KIND: Final = "taxonomy"
NAME: Final = "current"

log = logging.getLogger("kairos.taxonomy")

Usage = Callable[[], Awaitable[Mapping[str, Sequence[str]]]]
"""Which live items name each category: ``{category: [item ids]}``."""


class TaxonomyDocuments(Protocol):
    """Where the taxonomy document is kept (the service's definitions store)."""

    async def get_definition(self, kind: str, name: str) -> dict[str, Any] | None: ...

    async def put_definition(self, kind: str, name: str, document: dict[str, Any]) -> None: ...


class SharedTaxonomy:
    """The current taxonomy, loaded from and replaced in the shared store."""

    def __init__(
        self,
        documents: TaxonomyDocuments,
        seed: Taxonomy,
        *,
        readers: Sequence[InterestReader] = (),
        usage: Usage | None = None,
    ) -> None:
        self.documents = documents
        self.seed = seed
        self.readers = tuple(readers)
        self.usage = usage
        self._current = seed

    @property
    def current(self) -> Taxonomy:
        """The taxonomy this process reads against."""
        return self._current

    def known(self) -> tuple[str, ...]:
        """The category ids of the current taxonomy."""
        return self._current.ids

    async def load(self) -> Taxonomy:
        """The stored taxonomy (the seed, stored, when there is none); readers see it.

        Raises :class:`~intent.errors.TaxonomyError` when the stored document is not valid.
        """
        document = await self.documents.get_definition(KIND, NAME)
        if document is None:
            await self.documents.put_definition(KIND, NAME, self.seed.model_dump(mode="json"))
            taxonomy = self.seed
        else:
            taxonomy = parse_taxonomy(document, source="stored taxonomy")
        self._use(taxonomy)
        return taxonomy

    async def replace(self, taxonomy: Taxonomy) -> Taxonomy:
        """Store ``taxonomy`` and read against it from now on.

        Raises :class:`~intent.errors.TaxonomyInUse` (nothing stored) when it drops categories
        that live content still names.
        """
        if self.usage is not None:
            dropped = set(self._current.ids) - set(taxonomy.ids)
            if dropped:
                usage = await self.usage()
                in_use = {c: sorted(usage[c]) for c in sorted(dropped) if usage.get(c)}
                if in_use:
                    raise TaxonomyInUse(in_use)
        await self.documents.put_definition(KIND, NAME, taxonomy.model_dump(mode="json"))
        self._use(taxonomy)
        return taxonomy

    async def run(self, stop: asyncio.Event, every: float) -> None:
        """Reload every ``every`` seconds until ``stop`` is set (other workers' replacements);
        a store that cannot be reached or a bad document keeps the taxonomy in hand."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
                return
            except TimeoutError:
                pass
            try:
                await self.load()
            except Exception as exc:  # noqa: BLE001 - keep the last good one; say why
                log.warning("taxonomy not reloaded: %s", exc)

    def _use(self, taxonomy: Taxonomy) -> None:
        if taxonomy == self._current and all(r.taxonomy == taxonomy for r in self.readers):
            return
        self._current = taxonomy
        for reader in self.readers:
            reader.replace_taxonomy(taxonomy)
