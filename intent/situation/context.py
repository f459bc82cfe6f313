"""The context a caller sends about one visit or message (the input of :class:`SituationReader`)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

# CDNs send these when they do not know the country (Cloudflare: XX unknown, T1 Tor).
_UNKNOWN_COUNTRIES = frozenset({"XX", "T1", "ZZ"})
_COUNTRY = re.compile(r"[A-Za-z]{2}")


class ContextInput(BaseModel):
    """What the caller knows about the request. Every field is optional.

    A malformed value (a timezone that is not an IANA name, a country that is not two letters, a
    negative counter, a timestamp that is not one) fails validation, which the API turns into a
    422. Values that are well-formed but unrecognised (an unknown browser, a garbage referrer) are
    accepted and read as "unknown". Over-long headers are truncated by the reader, not rejected.

    Example::

        ContextInput(user_agent="Mozilla/5.0 ...", referrer="https://www.google.de/",
                     url="https://shop.example/?utm_medium=email", timezone="Europe/Berlin")
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    user_agent: str | None = None
    referrer: str | None = None
    url: str | None = None
    accept_language: str | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2, as a CDN sends it")
    timezone: str | None = Field(default=None, description="IANA name, e.g. Europe/Berlin")
    timestamp: datetime | None = Field(default=None, description="event time; naive means UTC")
    page_views_in_session: int | None = Field(default=None, ge=0)
    is_returning: bool | None = None
    site_search: str | None = Field(default=None, description="what was typed in the shop's search")
    page_title: str | None = Field(default=None, description="title of the page being viewed")
    product: str | None = Field(default=None, description="name of the product being viewed")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA timezone name") from exc
        return value

    @field_validator("country")
    @classmethod
    def _country_code(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not _COUNTRY.fullmatch(value):
            raise ValueError(f"{value!r} is not a two-letter country code")
        upper = value.upper()
        return None if upper in _UNKNOWN_COUNTRIES else upper
