"""Content items: what a marketer curates, and the versioned record the store keeps.

- :class:`ContentDraft` holds every field a marketer edits (the YAML files and ``POST`` body),
  :class:`ContentFields` the same without the id (``PUT`` body);
- :class:`ContentItem` is a stored draft plus ``version`` and ``updated_at`` (the public model);
- :class:`ContentPatch` is a partial edit (``PATCH``); :meth:`ContentDraft.patched` applies it.

Rules checked here, besides the field types: ``valid_to`` after ``valid_from`` (both with a
time zone), a parseable audience condition, and a default item (the safe fallback of its slot)
that everybody can get: no audience condition, no phase, moment or lifecycle restriction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from content_pool.errors import FieldError, InvalidContent
from content_pool.expressions import compile_expression

Clock = Callable[[], datetime]
Phase = Literal["explore", "consider", "purchase", "use", "churn"]
Moment = Literal["know", "go", "do", "buy", "service", "problem"]
LifecycleStage = Literal[
    "anonymous", "prospect", "new_customer", "active", "loyal", "at_risk", "lapsed"
]
Channel = Literal["web", "chat", "email", "sms", "push"]
Status = Literal["draft", "live", "archived"]

PHASES: tuple[Phase, ...] = ("explore", "consider", "purchase", "use", "churn")
MOMENTS: tuple[Moment, ...] = ("know", "go", "do", "buy", "service", "problem")
CHANNELS: tuple[Channel, ...] = ("web", "chat", "email", "sms", "push")
HTML_CHANNELS: frozenset[Channel] = frozenset({"web", "email"})
"""Channels whose templates produce HTML (autoescaped); the others produce plain text."""

_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,99}$"
_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Targeting(_Model):
    """Which situations an item serves. An empty list means "any".

    ``phases``, ``moments`` and ``lifecycle_stages`` are requirements: the item is shown only
    when the visit's phase (moment, lifecycle stage) is one of them, or is not known for this
    visit (an unknown phase excludes nothing). With ``prefer`` they are preferences instead:
    a match raises the item's fit, a mismatch lowers it, and nothing is excluded.
    ``categories`` are the topics the item is about; they meet the interest of the moment and
    the profile's long-term affinities in the ranking.
    """

    phases: list[Phase] = Field(default_factory=list)
    moments: list[Moment] = Field(default_factory=list)
    lifecycle_stages: list[LifecycleStage] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    prefer: bool = Field(
        default=False,
        description="Phases, moments and lifecycle stages rank rather than exclude.",
    )
    audience: str | None = Field(
        default=None,
        max_length=2000,
        description="Condition in the audience language (content_pool.expressions).",
        examples=['device.type == "mobile" and affinity("hiking") > 0.3'],
    )

    @field_validator("audience")
    @classmethod
    def _audience_compiles(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        _check_audience(value)  # ExpressionError is a ValueError: pydantic reports it
        return value

    @property
    def is_open(self) -> bool:
        """True when nothing restricts who gets the item."""
        return not (self.phases or self.moments or self.lifecycle_stages or self.audience)


@lru_cache(maxsize=4096)
def _check_audience(source: str) -> None:
    # items are re-validated whenever they are read from a store: parse each condition once
    compile_expression(source)


class FrequencyCap(_Model):
    """How often one profile may see the item; ``None`` means no limit."""

    per_day: int | None = Field(default=None, ge=1)
    per_week: int | None = Field(default=None, ge=1)


class ContentFields(_Model):
    """Every field a marketer edits except the id (the body of a full replace, ``PUT``)."""

    title: str = Field(min_length=1, max_length=200)
    slot: str = Field(pattern=_NAME_PATTERN, examples=["hero", "chat_reply", "email_block"])
    channel: Channel
    language: str = Field(pattern=r"^[a-z]{2}$", examples=["de", "en"])
    template: str = Field(min_length=1, max_length=20_000)
    targeting: Targeting = Field(default_factory=Targeting)
    priority: int = Field(default=50, ge=0, le=100, description="Business priority, 0-100.")
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    frequency_cap: FrequencyCap = Field(default_factory=FrequencyCap)
    tags: list[str] = Field(default_factory=list)
    is_default: bool = False
    status: Status = "draft"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        if self.is_default and not self.targeting.is_open:
            raise ValueError(
                "a default item must fit everybody: no phases, moments, lifecycle stages "
                "or audience condition"
            )
        return self

    def with_id(self, item_id: str) -> ContentDraft:
        """These fields as the draft of item ``item_id``. Raises :class:`InvalidContent`."""
        return parse_draft({**self.model_dump(), "id": item_id})

    def valid_at(self, now: datetime) -> bool:
        """Whether ``now`` lies in ``[valid_from, valid_to)``."""
        return (self.valid_from is None or self.valid_from <= now) and (
            self.valid_to is None or now < self.valid_to
        )


class ContentDraft(ContentFields):
    """Every field a marketer edits, with the id. Used for create and the YAML files."""

    id: str = Field(pattern=_ID_PATTERN, description="Stable id: lower case, digits, _ . -")

    def draft(self) -> ContentDraft:
        """The editable fields only (drops ``version`` and ``updated_at`` of a stored item)."""
        return ContentDraft.model_validate(self.model_dump(include=set(ContentDraft.model_fields)))

    def patched(self, patch: ContentPatch) -> ContentDraft:
        """A new draft with the fields set in ``patch`` replaced. Raises :class:`InvalidContent`."""
        data = self.draft().model_dump()
        data.update(patch.model_dump(exclude_unset=True))
        return parse_draft(data)


class ContentItem(ContentDraft):
    """A stored item: the draft plus its version (1, 2, ... per edit) and time of the edit."""

    version: int = Field(ge=1)
    updated_at: AwareDatetime


class ContentPatch(_Model):
    """A partial edit: only the fields given are changed (``PATCH``). ``id`` cannot change."""

    title: str | None = None
    slot: str | None = None
    channel: Channel | None = None
    language: str | None = None
    template: str | None = None
    targeting: Targeting | None = None
    priority: int | None = None
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    frequency_cap: FrequencyCap | None = None
    tags: list[str] | None = None
    is_default: bool | None = None
    status: Status | None = None


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Pydantic errors as :class:`FieldError` values with dotted locations."""
    errors = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in err["loc"])
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        message = str(err["msg"]).removeprefix("Value error, ")
        errors.append(FieldError(loc, message))
    return errors


def parse_draft(data: Mapping[str, Any]) -> ContentDraft:
    """Validate raw data (JSON, YAML) into a draft; raises :class:`InvalidContent` listing all."""
    try:
        return ContentDraft.model_validate(data)
    except ValidationError as exc:
        raise InvalidContent(field_errors(exc)) from None
