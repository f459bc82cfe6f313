"""Small helpers the console's form handlers share: reading fields, naming what was refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError


def text(form: Mapping[str, Any], name: str) -> str:
    """A form field as text (missing or a file: empty)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as ``{"field", "message"}`` (dotted field, message without prefix)."""
    errors = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        errors.append({"field": field, "message": message})
    return errors
