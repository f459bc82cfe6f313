"""Errors raised by the content_pool package.

ContentError
├── ContentNotFound (LookupError)     no item (or no such version of it) in the store
├── VersionConflict                   the item changed since the caller read it (expected version)
├── ContentStoreUnavailable (ConnectionError)  Redis cannot be reached or timed out
├── InvalidContent (ValueError)       an item or file that cannot be accepted; ``errors`` lists why
│   └── TemplateRejected              the template does not compile or fails on the sample context
├── ExpressionError (ValueError)      an audience condition with bad syntax or an unknown function
└── ContentRenderError                a stored template failed while rendering for a real request
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason an item was refused.

    ``loc`` names the field, dotted (``targeting.phases.0``), and is prefixed with the file
    name when the item came from a YAML file (``hero.yaml: items.3.slot``).
    """

    loc: str
    message: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.message}" if self.loc else self.message


class ContentError(Exception):
    """Root of every error raised by :mod:`content_pool`."""


class ContentNotFound(ContentError, LookupError):
    """No item with this id (or no such version of it) exists."""

    def __init__(self, item_id: str, version: int | None = None) -> None:
        self.item_id = item_id
        self.version = version
        what = f"content item {item_id!r}"
        if version is not None:
            what += f" version {version}"
        super().__init__(f"{what} does not exist")


class VersionConflict(ContentError):
    """The item's current version is not the one the caller expected to replace."""

    def __init__(self, item_id: str, expected: int, actual: int) -> None:
        self.item_id = item_id
        self.expected = expected
        self.actual = actual
        if expected == 0:
            msg = f"content item {item_id!r} already exists (version {actual})"
        elif actual == 0:
            msg = f"content item {item_id!r} does not exist (expected version {expected})"
        else:
            msg = (
                f"content item {item_id!r} is at version {actual}, not {expected}: "
                "reload it and apply the edit again"
            )
        super().__init__(msg)


class ContentStoreUnavailable(ContentError, ConnectionError):
    """The content store (Redis) cannot be reached or did not answer in time."""


class InvalidContent(ContentError, ValueError):
    """An item that cannot be accepted.

    ``field_errors`` lists every problem found, by field; ``errors`` is the same as JSON-ready
    ``{"field", "message"}`` dicts (the shape of the service's request validation errors).
    """

    def __init__(self, errors: Sequence[FieldError], message: str | None = None) -> None:
        self.field_errors: list[FieldError] = list(errors)
        if message is None:
            message = "; ".join(str(e) for e in self.field_errors) or "invalid content"
        super().__init__(message)

    @property
    def errors(self) -> list[dict[str, str]]:
        return [{"field": e.loc, "message": e.message} for e in self.field_errors]


class TemplateRejected(InvalidContent):
    """A template that does not compile, is not allowed, or fails against the sample context.

    ``line`` is the 1-based template line where the problem was found (``None`` when jinja
    could not tell), ``reason`` says what is wrong in words a marketer can act on.
    """

    def __init__(self, reason: str, line: int | None = None, loc: str = "template") -> None:
        self.reason = reason
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__([FieldError(loc, f"{where}{reason}")])


class ExpressionError(ContentError, ValueError):
    """An audience condition that cannot be compiled.

    ``position`` is the 0-based character offset in ``source`` where the problem starts.
    """

    def __init__(self, message: str, source: str, position: int) -> None:
        self.reason = message
        self.source = source
        self.position = position
        super().__init__(f"{message} at position {position}")


class ContentRenderError(ContentError):
    """A stored template failed while rendering for a request (sandbox or undefined variable)."""

    def __init__(self, reason: str, item_id: str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.item_id = item_id
        self.line = line
        where = f"content item {item_id!r}" if item_id else "template"
        if line is not None:
            where += f" line {line}"
        super().__init__(f"{where}: {reason}")
