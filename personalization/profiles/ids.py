"""The one grammar of person ids: profile ids and anonymous ids alike, on every route.

1–128 characters of letters, digits and ``. _ : @ -``, so e-mail-like ids (``ada@example.org``)
and CRM numbers (``C-0042``) both work. Everything that takes a person's id uses
:data:`ProfileId` (or :data:`PROFILE_ID_PATTERN` where only a pattern fits), so a bad id gets the
same message everywhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

PROFILE_ID_PATTERN: Final = r"^[A-Za-z0-9._:@-]{1,128}$"
"""Profile and anonymous ids: 1–128 characters, letters, digits and ``. _ : @ -`` (no braces)."""

PROFILE_ID_RULE: Final = "1-128 characters of letters, digits and . _ : @ -"
"""What :data:`PROFILE_ID_PATTERN` allows, in words (the message of a refused id)."""

ID_MESSAGE: Final = f"an id is {PROFILE_ID_RULE}"
"""The message of a refused id, on every route."""

_MATCH = re.compile(PROFILE_ID_PATTERN).match


def is_profile_id(value: object) -> bool:
    """Whether ``value`` is a well-formed profile (or anonymous) id."""
    return isinstance(value, str) and _MATCH(value) is not None


def check_profile_id(value: str) -> str:
    """``value`` if it is a well-formed id; raises pydantic's error with the one message."""
    if _MATCH(value) is None:
        raise PydanticCustomError("profile_id", ID_MESSAGE)
    return value


ProfileId = Annotated[
    str,
    AfterValidator(check_profile_id),
    WithJsonSchema({"type": "string", "pattern": PROFILE_ID_PATTERN, "minLength": 1,
                    "maxLength": 128, "description": PROFILE_ID_RULE}),
]
"""A profile or anonymous id, validated with the one message of :func:`check_profile_id`."""
