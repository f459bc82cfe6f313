"""The situation as a typed, immutable value: device, source, language, time and evidence."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from intent.interest.models import Interest

DeviceType = Literal[
    "mobile", "tablet", "desktop", "tv", "console", "wearable", "car", "bot", "other"
]
Medium = Literal[
    "search", "social", "email", "paid", "internal", "direct", "referral", "chatbot", "unknown"
]
LanguageSource = Literal["text", "accept_language", "url_path", "none"]
Daypart = Literal["night", "morning", "afternoon", "evening"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Device(BaseModel):
    """What the User-Agent says; unrecognised parts are ``None`` (type ``other``)."""

    model_config = _FROZEN

    type: DeviceType = "other"
    os: str | None = None
    os_version: str | None = None
    browser: str | None = None
    browser_version: str | None = None
    is_touch: bool = False
    is_bot: bool = False


class Source(BaseModel):
    """Where the visit came from.

    ``source`` is a name (``Google``, ``Gmail``, ``newsletter``) or the referring host;
    ``click_id`` names the ad click parameter that was present (``gclid``), never its value.
    """

    model_config = _FROZEN

    medium: Medium = "unknown"
    source: str | None = None
    search_term: str | None = None
    campaign: str | None = None
    click_id: str | None = None


class Language(BaseModel):
    """The visitor's language (ISO 639-1) and which signal gave it: what they wrote (``text``),
    their browser's ``accept_language``, or the landing page's language folder (``url_path``,
    ``/de/...``) when neither says anything."""

    model_config = _FROZEN

    code: str | None = None
    source: LanguageSource = "none"


class Evidence(BaseModel):
    """One situation rule that fired: a hint about phase and/or micro-moment, for fusion.

    ``name`` is the rule's name (it appears in explanations), ``weight`` in (0, 1] its strength,
    ``detail`` what matched, in words.
    """

    model_config = _FROZEN

    name: str
    phase: str | None = None
    moment: str | None = None
    weight: float = Field(gt=0.0, le=1.0)
    detail: str


class Situation(BaseModel):
    """The situation Kairos reasons with, read from one request's context."""

    model_config = _FROZEN

    device: Device
    source: Source
    language: Language
    country: str | None
    timezone: str
    local_time: str
    daypart: Daypart
    weekday: Weekday
    is_weekend: bool
    is_returning: bool | None
    page_views_in_session: int | None
    evidence: list[Evidence]
    interests: list[Interest] = Field(
        default_factory=list,
        description="what the visitor is after right now, strongest first (empty: unknown)",
    )
