"""The marketer's side of the pool: find items, check and save edits (API and console alike).

:class:`ContentQuery` is the one filter of the content list (``GET /v1/content`` and the
console's list page); :class:`ContentCatalog` is the one way an edit gets in: fields and audience
condition checked, the template rendered in the sandbox on the sample context, the write made
conditional on the version the editor saw, and the process's own :class:`ContentPool` updated
at once (other workers see the change at their next refresh).

How a query matches, chosen for a marketer asking "what would serve this?":

- every criterion left empty (``None`` or ``""``) matches everything; given ones must all hold;
- ``slot``, ``channel``, ``language``, ``status``: equal;
- ``phase``, ``moment``: the item serves it, i.e. lists it **or does not restrict that
  dimension** (an empty list means "any", as in the decision); a default item serves every
  phase and moment;
- ``category``: listed among the item's categories (case-insensitive); categories describe an
  item, they do not restrict it, so an item without categories has none;
- ``text``: found, case-insensitively, in the id, title, a tag, a category or the template
  text (marketers remember the copy they wrote, not always the id).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from content_pool.errors import FieldError, InvalidContent
from content_pool.expressions import compile_expression, unknown_topics
from content_pool.models import ContentDraft, ContentItem, ContentPatch, field_errors
from content_pool.pool import ContentPool
from content_pool.render import Renderer
from content_pool.storage import ContentStore


@dataclass(frozen=True, slots=True)
class ContentQuery:
    """A filter over content items (see the module docstring for how each field matches).

    >>> ContentQuery(slot="hero", phase="churn", text="sommer").select(items)
    """

    text: str | None = None
    slot: str | None = None
    channel: str | None = None
    language: str | None = None
    status: str | None = None
    phase: str | None = None
    moment: str | None = None
    category: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ContentQuery:
        """A query from raw request parameters (``q`` is the text); blanks are ignored."""
        values = {name: (params.get(name) or "").strip() or None for name in _PARAMS}
        return cls(text=(params.get("q") or "").strip() or None, **values)

    def matches(self, item: ContentItem) -> bool:
        """Whether ``item`` meets every criterion given."""
        targeting = item.targeting
        if (
            (self.slot and item.slot != self.slot)
            or (self.channel and item.channel != self.channel)
            or (self.language and item.language != self.language)
            or (self.status and item.status != self.status)
            or (self.phase and targeting.phases and self.phase not in targeting.phases)
            or (self.moment and targeting.moments and self.moment not in targeting.moments)
        ):
            return False
        if self.category:
            wanted = self.category.casefold()
            if all(category.casefold() != wanted for category in targeting.categories):
                return False
        if self.text:
            needle = self.text.casefold()
            haystack = (item.id, item.title, *item.tags, *targeting.categories, item.template)
            return any(needle in text.casefold() for text in haystack)
        return True

    def select(self, items: Iterable[ContentItem]) -> list[ContentItem]:
        """The items that match, in the order given."""
        return [item for item in items if self.matches(item)]


_PARAMS = ("slot", "channel", "language", "status", "phase", "moment", "category")


class ContentCatalog:
    """Checked, versioned edits of the content pool, and its filtered list.

    ``known_categories``, when given, returns the category ids an item may name in
    ``targeting.categories`` (the interest taxonomy); an item naming another is refused.

    >>> catalog = ContentCatalog(store, Renderer(), pool)
    >>> item = await catalog.save(draft, expected_version=0)      # create
    >>> await catalog.find(ContentQuery(slot="hero"))
    """

    def __init__(
        self,
        store: ContentStore,
        renderer: Renderer,
        pool: ContentPool | None = None,
        *,
        known_categories: Callable[[], Collection[str]] | None = None,
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.pool = pool
        self.known_categories = known_categories

    async def find(self, query: ContentQuery) -> list[ContentItem]:
        """The current version of every matching item, ordered by id."""
        return query.select(await self.store.all())

    def check(self, data: Mapping[str, Any]) -> tuple[ContentDraft | None, list[FieldError]]:
        """Validate raw fields and render the template on the sample context, without saving.

        Returns the draft when it is valid, else ``None`` and every problem found (fields and
        audience condition first; the template only once the fields are valid).
        """
        try:
            draft = ContentDraft.model_validate(data)
        except ValidationError as exc:
            return None, field_errors(exc)
        unknown = self._unknown_categories(draft)
        if unknown:
            return None, unknown
        try:
            self.renderer.validate(draft)
        except InvalidContent as exc:
            return None, exc.field_errors
        return draft, []

    async def save(self, draft: ContentDraft, expected_version: int | None = None) -> ContentItem:
        """Store ``draft`` as the next version of its id and return the stored item.

        ``expected_version`` as in :meth:`ContentStore.put` (``0``: must be new). Raises
        :class:`~content_pool.errors.TemplateRejected` when the template fails the sandbox
        check, :class:`~content_pool.errors.VersionConflict` when the item changed meanwhile.
        """
        unknown = self._unknown_categories(draft)
        if unknown:
            raise InvalidContent(unknown)
        self.renderer.validate(draft)
        item = await self.store.put(draft, expected_version=expected_version)
        if self.pool is not None:
            self.pool.apply(item)  # this process's decisions see the edit at once
        return item

    def _unknown_categories(self, draft: ContentDraft) -> list[FieldError]:
        if self.known_categories is None:
            return []
        return unknown_categories(draft, self.known_categories())

    async def patch(
        self, item_id: str, patch: ContentPatch, expected_version: int | None = None
    ) -> ContentItem:
        """Change the fields set in ``patch``; without ``expected_version`` the edit applies to
        the version read here (a concurrent edit in between is a conflict, never lost)."""
        current = await self.store.get(item_id)
        expected = current.version if expected_version is None else expected_version
        return await self.save(current.patched(patch), expected)

    async def archive(self, item_id: str, expected_version: int | None = None) -> ContentItem:
        """A new version with ``status="archived"`` (the decision stops showing it)."""
        return await self.patch(item_id, ContentPatch(status="archived"), expected_version)

    async def purge(self, item_id: str) -> None:
        """Forget the item and all its versions. Raises :class:`ContentNotFound`."""
        await self.store.delete(item_id)
        if self.pool is not None:
            self.pool.forget(item_id)


def unknown_categories(draft: ContentDraft, known: Collection[str]) -> list[FieldError]:
    """The categories (``targeting.categories``, ``affinity("...")`` in the audience) of
    ``draft`` that the taxonomy does not know, as field errors naming the known ones."""
    errors = [
        FieldError(
            f"targeting.categories.{i}",
            f"unknown category {category!r} — known: {', '.join(sorted(known))}",
        )
        for i, category in enumerate(draft.targeting.categories)
        if category not in known
    ]
    if draft.targeting.audience:
        wrong = unknown_topics(compile_expression(draft.targeting.audience), known)
        if wrong is not None:
            errors.append(FieldError("targeting.audience", str(wrong)))
    return errors


def check_categories(drafts: Iterable[ContentDraft], known: Collection[str]) -> None:
    """Raise :class:`InvalidContent` listing, per item, every category the taxonomy does not
    know (for imports of many items: the YAML directory at start, ``kairos content import``)."""
    unknown = [FieldError(f"{draft.id}.{error.loc}", error.message)
               for draft in drafts for error in unknown_categories(draft, known)]  # fmt: skip
    if unknown:
        raise InvalidContent(unknown)
