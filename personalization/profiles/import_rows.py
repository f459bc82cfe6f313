"""Rows of a CRM or shop export turned into events (see :mod:`personalization.profiles.importing`).

:func:`profile_row_events` reads a customer row, :func:`order_row_events` an order row; both give
events with deterministic ids and raise :class:`RowError` for a row that cannot be imported.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

_MAX_ID = 128

_PROFILE_ID = ("customer_id", "profile_id", "customer_number", "customer_no", "kundennummer",
               "kunden_id", "id")  # fmt: skip
_ORDER_ID = ("order_id", "order_number", "order_no", "bestellnummer", "id")
_ORDER_CUSTOMER = ("customer_id", "profile_id", "customer_number", "customer_no",
                   "kundennummer", "kunden_id")  # fmt: skip
_ORDERED_AT = ("ordered_at", "order_date", "created_at", "date", "timestamp", "bestelldatum")
_TOTAL = ("total", "value", "amount", "grand_total", "revenue", "order_total", "summe")
_ATTRIBUTES = {
    "first_name": ("first_name", "firstname", "given_name", "vorname"),
    "birthday": ("birthday", "birth_date", "date_of_birth", "dob", "geburtstag", "geburtsdatum"),
    "postcode": ("postcode", "zip", "zip_code", "postal_code", "plz"),
    "language": ("language", "lang", "locale", "sprache"),
    "country": ("country", "country_code", "land"),
    "timezone": ("timezone", "time_zone", "tz"),
    "channel_preferences": ("channel_preferences", "channels", "preferred_channels"),
}
_PURPOSES = {
    "personalisation": ("consent_personalisation", "consent_personalization"),
    "analytics": ("consent_analytics",),
    "email": ("consent_email", "email_opt_in", "email_optin", "newsletter", "newsletter_opt_in"),
    "sms": ("consent_sms", "sms_opt_in", "sms_optin"),
    "push": ("consent_push", "push_opt_in"),
}
_NOT_IMPORTED = frozenset({"email", "email_hash", "e_mail", "mail", "phone", "mobile",
                           "telephone", "last_name", "lastname", "surname", "nachname",
                           "street", "address", "strasse"})  # fmt: skip
PROFILE_COLUMNS = frozenset(
    {*_PROFILE_ID, "updated_at", "created_at", "consents",
     *(a for names in _ATTRIBUTES.values() for a in names),
     *(p for names in _PURPOSES.values() for p in names)}
)  # fmt: skip
ORDER_COLUMNS = frozenset(
    {*_ORDER_ID, *_ORDER_CUSTOMER, *_ORDERED_AT, *_TOTAL, "currency", "items", "category",
     "categories", "product_id", "sku", "status", "quantity"}
)  # fmt: skip
_TRUE = frozenset({"1", "true", "yes", "y", "ja", "j", "x", "opt_in", "optin", "granted"})
_FALSE = frozenset({"0", "false", "no", "n", "nein", "opt_out", "optout", "denied", "revoked"})
_CANCELLED = frozenset({"cancelled", "canceled", "refunded", "storniert", "void", "returned"})


class RowError(ValueError):
    """Why one row cannot be imported (becomes a rejection; never escapes the importer)."""


def _pick(row: Mapping[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        value = row.get(name)
        if value is not None and value != "":
            return value.strip() if isinstance(value, str) else value
    return None


def _clean_id(value: Any, what: str) -> str:
    if value is None:
        raise RowError(f"{what} is missing")
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if not re.fullmatch(r"[A-Za-z0-9._:@-]{1,128}", text):
        raise RowError(f"{what} {text[:40]!r} is not an id: 1-128 letters, digits or . _ : @ -")
    return text


def _timestamp(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}( \d{1,2}:\d{2}(:\d{2})?)?", text):
            day, rest = text[:10].rstrip(), text[10:].strip()
            parsed = datetime.strptime(day, "%d.%m.%Y")
            if rest:
                parsed = datetime.combine(parsed.date(), datetime.strptime(
                    rest, "%H:%M:%S" if rest.count(":") == 2 else "%H:%M").time())
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RowError(f"{what} {text[:40]!r} is not a date and time (ISO 8601 or "
                       "DD.MM.YYYY)") from None  # fmt: skip
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _birthday(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    raise RowError(f"birthday {text[:20]!r} is not a date (YYYY-MM-DD or DD.MM.YYYY)")


def _flag(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower().replace("-", "_")
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowError(f"{what} {text[:20]!r} is not yes/no")


def _money(value: Any, what: str) -> float:
    if value is None:
        raise RowError(f"{what} is missing")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if "," in text and "." in text:  # 1.299,90 or 1,299.90: the last separator is the decimal
        text = (text.replace(".", "").replace(",", ".") if text.rfind(",") > text.rfind(".")
                else text.replace(",", ""))  # fmt: skip
    else:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        raise RowError(f"{what} {str(value)[:20]!r} is not a number") from None


def _event_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()
    return f"{prefix}-{digest[:24]}"


def profile_row_events(row: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The profile id and the raw events of one CRM row. Raises :class:`RowError`."""
    profile_id = _clean_id(_pick(row, _PROFILE_ID), "customer_id")
    attributes: dict[str, Any] = {}
    for name, aliases in _ATTRIBUTES.items():
        value = _pick(row, aliases)
        if value is None:
            continue
        if name == "birthday":
            value = _birthday(value)
        elif name == "language":
            value = str(value).lower().replace("_", "-").split("-")[0]
        elif name == "country":
            value = str(value).upper()
        elif name == "channel_preferences":
            value = value if isinstance(value, list) else [
                c.strip().lower() for c in re.split(r"[|,;]", str(value)) if c.strip()
            ]
        attributes[name] = value
    consents: dict[str, bool] = {}
    given = row.get("consents")
    if isinstance(given, dict):
        for purpose, value in given.items():
            flag = _flag(value, f"consents.{purpose}")
            if flag is not None:
                consents[str(purpose)] = flag
    for purpose, aliases in _PURPOSES.items():
        flag = _flag(_pick(row, aliases), aliases[0])
        if flag is not None:
            consents[purpose] = flag
    when = _timestamp(_pick(row, ("updated_at", "created_at")), "updated_at")
    stamp = {"timestamp": when.isoformat()} if when else {}
    state = orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS).decode()
    events: list[dict[str, Any]] = [{
        "event_id": _event_id("imp-p", profile_id, state),
        "type": "profile_update", "profile_id": profile_id, "properties": attributes, **stamp,
    }]  # fmt: skip
    if consents:
        state = orjson.dumps(consents, option=orjson.OPT_SORT_KEYS).decode()
        events.append({
            "event_id": _event_id("imp-c", profile_id, state, str(when)),
            "type": "consent_update", "profile_id": profile_id,
            "properties": {"consents": consents, "source": "import"}, **stamp,
        })  # fmt: skip
    return profile_id, events


def _items(row: Mapping[str, Any], order_id: str) -> list[dict[str, Any]]:
    raw = row.get("items")
    if isinstance(raw, str) and raw.strip():
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise RowError("items is not a JSON list") from None
    if isinstance(raw, list) and raw:
        items = []
        for index, entry in enumerate(raw):
            if not isinstance(entry, dict):
                raise RowError(f"items.{index} is not an object")
            item: dict[str, Any] = {
                "product_id": str(_pick(entry, ("product_id", "sku", "id")) or
                                  f"{order_id}-{index + 1}"),
                "category": _pick(entry, ("category", "product_category")),
            }  # fmt: skip
            quantity = _pick(entry, ("quantity", "qty"))
            if quantity is not None:
                item["quantity"] = quantity
            price = _pick(entry, ("price", "unit_price"))
            if price is not None:
                item["price"] = _money(price, f"items.{index}.price")
            items.append(item)
        return items
    categories = _pick(row, ("categories", "category"))
    if categories is None:
        raise RowError("no items and no category: an order needs at least one category")
    names = categories if isinstance(categories, list) else re.split(r"[|,;]", str(categories))
    product = _pick(row, ("product_id", "sku"))
    return [
        {"product_id": str(product or f"{order_id}-{i + 1}"), "category": str(name).strip()}
        for i, name in enumerate(n for n in names if str(n).strip())
    ]


def order_row_events(
    row: Mapping[str, Any], *, default_currency: str = "EUR"
) -> tuple[str, list[dict[str, Any]]]:
    """The profile id and the raw events of one order row (an empty list for a cancelled
    order). A JSON Lines Kairos event passes through. Raises :class:`RowError`."""
    if "event_id" in row and "type" in row:
        subject = row.get("profile_id") or row.get("anonymous_id")
        return _clean_id(subject, "profile_id"), [dict(row)]
    order_id = _clean_id(_pick(row, _ORDER_ID), "order_id")
    profile_id = _clean_id(_pick(row, _ORDER_CUSTOMER), "customer_id")
    status = str(_pick(row, ("status", "order_status")) or "").lower()
    if status in _CANCELLED:
        return profile_id, []
    when = _timestamp(_pick(row, _ORDERED_AT), "ordered_at")
    if when is None:
        raise RowError("ordered_at is missing: an order without a time would count as today")
    total = _money(_pick(row, _TOTAL), "total")
    currency = str(_pick(row, ("currency", "currency_code")) or default_currency).upper()
    event_id = f"order-{order_id}"
    if len(event_id) > _MAX_ID:
        event_id = _event_id("order", order_id)
    return profile_id, [{
        "event_id": event_id, "type": "purchase", "profile_id": profile_id,
        "timestamp": when.isoformat(),
        "properties": {"order_id": order_id, "value": total, "currency": currency,
                       "items": _items(row, order_id)},
    }]  # fmt: skip


def row_identifier(kind: Literal["profiles", "events"], row: Mapping[str, Any]) -> str | None:
    """The customer or order id of a rejected row, as far as it can be read (for the report)."""
    ident = _pick(row, _PROFILE_ID if kind == "profiles" else _ORDER_ID)
    return str(ident)[:_MAX_ID] if ident is not None else None
