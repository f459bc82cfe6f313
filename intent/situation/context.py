"""The context a caller sends about one visit or message (the input of :class:`SituationReader`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

# CDNs send these when they do not know the country (Cloudflare: XX unknown, T1 Tor).
_UNKNOWN_COUNTRIES = frozenset({"XX", "T1", "ZZ"})
_COUNTRY = re.compile(r"[A-Za-z]{2}")
# User-Agent Client Hints a site can forward with the agent: context field -> request header.
CLIENT_HINT_HEADERS: Final = {
    "sec_ch_ua_mobile": "sec-ch-ua-mobile",
    "sec_ch_ua_platform": "sec-ch-ua-platform",
    "sec_ch_ua_model": "sec-ch-ua-model",
}


def from_headers(context: ContextInput, headers: Mapping[str, str]) -> ContextInput:
    """``context`` with the User-Agent and its client hints taken from the request's own
    ``headers`` (lower-case names) when the caller left the agent out, as the snippet does.

    Every route that reads a visitor's situation (decide, chat, situation) reads it this way,
    so they agree on the same browser.
    """
    agent = headers.get("user-agent")
    if context.user_agent is not None or not agent:
        return context
    return context.model_copy(update={"user_agent": agent[:1000], **client_hints(headers)})


def client_hints(headers: Mapping[str, str], max_length: int = 200) -> dict[str, str | bool]:
    """The client-hint context fields that ``headers`` (lower-case names) carry, parsed.

    ``{"sec-ch-ua-mobile": "?1", "sec-ch-ua-platform": '"Android"'}`` gives
    ``{"sec_ch_ua_mobile": True, "sec_ch_ua_platform": "Android"}``; malformed values are left out.
    """
    found: dict[str, str | bool] = {}
    for field, header in CLIENT_HINT_HEADERS.items():
        raw = headers.get(header)
        if not raw:
            continue
        value = _hint_boolean(raw) if field == "sec_ch_ua_mobile" else _hint_string(raw)
        if value is not None and not (isinstance(value, str) and len(value) > max_length):
            found[field] = value
    return found


def _hint_boolean(value: str) -> bool | None:
    # Structured-header booleans as browsers send them: ?1 and ?0.
    return {"?1": True, "?0": False}.get(value.strip())


def _hint_string(value: str) -> str | None:
    # Structured-header strings arrive quoted ("Android"); an empty model means "not given".
    return value.strip().strip('"').strip() or None


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
    sec_ch_ua_mobile: bool | None = Field(
        default=None, description='Sec-CH-UA-Mobile: "?1" (or true) for a phone, "?0" otherwise'
    )
    sec_ch_ua_platform: str | None = Field(
        default=None, description='Sec-CH-UA-Platform, e.g. "Android", "Windows", "macOS"'
    )
    sec_ch_ua_model: str | None = Field(
        default=None, description='Sec-CH-UA-Model, e.g. "SM-X200" (Chrome hides it in the UA)'
    )

    @field_validator("sec_ch_ua_mobile", mode="before")
    @classmethod
    def _structured_boolean(cls, value: object) -> object:
        if isinstance(value, str):
            parsed = _hint_boolean(value)
            return value if parsed is None else parsed
        return value

    @field_validator("sec_ch_ua_platform", "sec_ch_ua_model")
    @classmethod
    def _structured_string(cls, value: str | None) -> str | None:
        return None if value is None else _hint_string(value)

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
