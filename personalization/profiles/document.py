"""A profile's stored form: a compact JSON document, at most about 2 KB per profile in Redis.

:func:`to_document` writes short keys (each field's ``validation_alias``), epoch seconds, rounded
floats, leaves defaults out, and writes the small records of bounded lists
(:class:`~personalization.profiles.profile.StoredRow`) as arrays; :func:`from_document` reads it
back. The long names are what the API and the code see.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from personalization.profiles.profile import Profile, StoredRow
from personalization.store.protocols import Document

_MISSING = object()
_FIELDS: dict[type[BaseModel], list[tuple[str, str, Any]]] = {}


def _fields(cls: type[BaseModel]) -> list[tuple[str, str, Any]]:
    """``(name, stored key, packed default)`` of each field of ``cls``, computed once per class.

    Defaults are compared in their packed (JSON) form, which is cheaper than comparing models.
    """
    found = _FIELDS.get(cls)
    if found is None:
        found = []
        for name, info in cls.model_fields.items():
            key = info.validation_alias if isinstance(info.validation_alias, str) else name
            default = _MISSING if info.is_required() else _pack(info.get_default(
                call_default_factory=True))
            found.append((name, key, default))
        _FIELDS[cls] = found
    return found


def _pack(value: Any) -> Any:
    if isinstance(value, BaseModel):
        fields = _fields(type(value))
        if isinstance(value, StoredRow):
            row = [_pack(getattr(value, name)) for name, _, _ in fields]
            while row and row[-1] == fields[len(row) - 1][2]:
                row.pop()  # trailing defaults
            return row
        out: dict[str, Any] = {}
        for name, key, default in fields:
            packed = _pack(getattr(value, name))
            if packed != default:
                out[key] = packed
        return out
    if isinstance(value, str):
        return str(value)  # plain str for enums
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _pack(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_pack(v) for v in value]
    return value


def to_document(profile: Profile) -> Document:
    """The compact stored form (short keys, epoch seconds, rounded floats, no defaults)."""
    document: Document = _pack(profile)
    return document


def from_document(document: Document) -> Profile:
    """Read a stored document (or the long-named JSON of the API) back into a profile."""
    return Profile.model_validate(document)
