"""Where a visit came from: medium, source, search term, campaign and ad click id.

Precedence, most deliberate signal first:

1. ``utm_medium`` on the page URL, when it is a medium we know (a newsletter link is ``email``
   whatever the referrer says); ``utm_source`` names the source and ``utm_term`` the keyword;
2. an ad click id on the page URL (``gclid``, ``msclkid``, ...) means ``paid``;
3. ``utm_source`` alone, when it names a known host (ChatGPT appends ``utm_source=chatgpt.com``);
4. the referrer: none is ``direct``; the page's own host or a configured one is ``internal``; a
   host in the referrer database gives its medium (search, social, chatbot, email, paid) and, for
   search engines, the term; any other web host is ``referral``; anything unparseable ``unknown``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import unquote_to_bytes, urlsplit

from intent.situation.models import Medium, Source
from intent.situation.referrers import ReferrerEntry, ReferrerIndex

# utm_medium values as marketers write them, lower-cased, separators removed.
_UTM_MEDIUMS: Final[Mapping[str, Medium]] = {
    **dict.fromkeys(("email", "mail", "newsletter", "emailing", "mailing", "crm"), "email"),
    **dict.fromkeys(
        (
            "cpc", "ppc", "cpm", "cpv", "cpa", "paid", "paidsearch", "paidsocial", "sem",
            "display", "banner", "retargeting", "remarketing", "ads", "ad", "sea", "affiliate",
        ),
        "paid",
    ),
    **dict.fromkeys(("social", "socialmedia", "socialnetwork", "sm", "organicsocial"), "social"),
    **dict.fromkeys(("organic", "seo", "search"), "search"),
    **dict.fromkeys(("referral", "link", "partner"), "referral"),
    **dict.fromkeys(("chatbot", "ai", "llm", "chat"), "chatbot"),
}
# Ad click ids appended by ad platforms on a click, and whose ads they are.
CLICK_IDS: Final[Mapping[str, str]] = {
    "gclid": "Google",
    "wbraid": "Google",
    "gbraid": "Google",
    "dclid": "Google",
    "msclkid": "Microsoft",
    "fbclid": "Facebook",
    "ttclid": "TikTok",
    "li_fat_id": "LinkedIn",
    "twclid": "X",
    "yclid": "Yandex",
}
# An unlisted host whose name or path says "search" and that carries a term in a common parameter.
_SEARCHY: Final = re.compile(r"search|suche|recherche|busca|cerca|zoek|/find|/s(?:/|$)", re.I)
_GENERIC_SEARCH: Final = ReferrerEntry(
    medium="search", name="", params=("q", "query", "kw", "keyword", "keywords", "search", "p")
)
_HOST: Final = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
_MAX_TERM: Final = 200
# Not a search term but an id some engines put where the term would be: a UUID, a long run of
# hex digits, or a long base64 / url-safe token that mixes upper case, lower case and digits
# with few word-like stretches in it. Hyphenated codes with short parts (SM-G960F-64GB) and
# camel-case words (UltraLightTent2024) are what people type, not ids.
_HEX_ID: Final = re.compile(
    r"(?=.*\d)[0-9a-f]{16,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    re.IGNORECASE,
)
_TOKEN: Final = re.compile(r"(?=.*[A-Z])(?=.*[a-z])(?=.*\d)[A-Za-z0-9+/_-]{20,}={0,2}")
_VOWEL: Final = re.compile(r"[aeiouy]")
_WORDLIKE: Final = re.compile(r"[A-Z]?[a-z]{2,}")


def is_opaque_id(text: str) -> bool:
    """Whether ``text`` is an id or token rather than words a person typed."""
    text = text.strip()
    if _HEX_ID.fullmatch(text):
        return True
    if not _TOKEN.fullmatch(text):
        return False
    if max(len(part) for part in re.split(r"[-_]", text)) <= 10:
        return False
    words = sum(len(w) for w in _WORDLIKE.findall(text) if len(w) >= 3 and _VOWEL.search(w))
    return words < 0.5 * len(text)


class SourceClassifier:
    """Classify referrer + page URL into a :class:`Source`.

    ``internal_hosts`` are hosts (with their subdomains) whose referrals count as ``internal``
    besides the page's own host.
    """

    def __init__(self, index: ReferrerIndex, *, internal_hosts: Sequence[str] = ()) -> None:
        self.index = index
        self.internal_hosts = tuple(_strip_www(h.strip().lower()) for h in internal_hosts if h)

    def classify(self, referrer: str | None, url: str | None) -> Source:
        """Return the source of a visit; never raises on malformed input."""
        page = _split(url)
        query = _query(page.query) if page is not None else {}
        campaign = query.get("utm_campaign") or None
        utm_source = query.get("utm_source") or None
        utm_term = query.get("utm_term") or None

        medium = _UTM_MEDIUMS.get(_token(query.get("utm_medium", "")))
        if medium is not None:
            return Source(
                medium=medium, source=utm_source, search_term=utm_term, campaign=campaign,
                click_id=_click_id(query),
            )
        click_id = _click_id(query)
        if click_id is not None:
            return Source(
                medium="paid", source=utm_source or CLICK_IDS[click_id], search_term=utm_term,
                campaign=campaign, click_id=click_id,
            )
        if utm_source is not None:
            entry = self._entry_for_utm_source(utm_source)
            if entry is not None:
                return Source(
                    medium=entry.medium, source=entry.name, search_term=utm_term, campaign=campaign
                )

        found = self._from_referrer(referrer, page.hostname if page is not None else None)
        if campaign is None and utm_source is None and utm_term is None:
            return found
        return found.model_copy(
            update={
                "campaign": campaign,
                "source": utm_source or found.source,
                "search_term": found.search_term or utm_term,
            }
        )

    def _from_referrer(self, referrer: str | None, page_host: str | None) -> Source:
        if not referrer:
            return Source(medium="direct")
        parts = _split(referrer)
        host = parts.hostname if parts is not None else None
        if parts is None or host is None or not _HOST.fullmatch(host):
            return Source(medium="unknown")
        if parts.scheme not in ("http", "https"):
            # android-app://com.google.android.gm/ and the like: an app, known or not.
            return Source(medium="referral", source=host) if parts.scheme else Source()
        if self._is_internal(host, page_host):
            return Source(medium="internal", source=_strip_www(host))
        path = parts.path or "/"
        engine: ReferrerEntry | None = None
        for entry in self.index.matches(host, path):
            if entry.medium != "search":
                return Source(medium=entry.medium, source=entry.name)
            term = _search_term(entry, parts)
            if term is not None:
                return Source(medium="search", source=entry.name, search_term=term)
            engine = engine or entry
        # Referrers are mostly origin-only today (https://www.google.com/): a listed engine is
        # search even without a term. Engines rename parameters, so the common ones are tried too.
        if engine is not None:
            term = _search_term(_GENERIC_SEARCH, parts)
            return Source(medium="search", source=engine.name, search_term=term)
        if _SEARCHY.search(host) or _SEARCHY.search(path):
            term = _search_term(_GENERIC_SEARCH, parts)
            if term is not None:  # an unlisted engine or a site's own search results
                return Source(medium="search", source=_strip_www(host), search_term=term)
        return Source(medium="referral", source=_strip_www(host))

    def _is_internal(self, host: str, page_host: str | None) -> bool:
        bare = _strip_www(host)
        if page_host is not None and bare == _strip_www(page_host):
            return True
        return any(bare == h or bare.endswith("." + h) for h in self.internal_hosts)

    def _entry_for_utm_source(self, utm_source: str) -> ReferrerEntry | None:
        host = utm_source.strip().lower()
        if "." not in host or not _HOST.fullmatch(host):
            return None
        return self.index.lookup(host)


def _split(url: str | None) -> _Parts | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:  # an invalid IPv6 literal or port
        return None
    return _Parts(parts.scheme.lower(), hostname, parts.path, parts.query, parts.fragment)


class _Parts:
    __slots__ = ("scheme", "hostname", "path", "query", "fragment")

    def __init__(
        self, scheme: str, hostname: str | None, path: str, query: str, fragment: str = ""
    ) -> None:
        self.scheme = scheme
        self.hostname = hostname.rstrip(".") if hostname else None
        self.path = path
        self.query = query
        self.fragment = fragment


def _query(query: str, charsets: Sequence[str] = ()) -> dict[str, str]:
    """First value of each parameter, percent-decoded (keys lower-cased)."""
    result: dict[str, str] = {}
    for pair in query.split("&"):
        key, sep, value = pair.partition("=")
        if not sep:
            continue
        key = key.strip().lower()
        if key and key not in result:
            result[key] = _decode(value, charsets)
    return result


def _decode(value: str, charsets: Sequence[str] = ()) -> str:
    raw = unquote_to_bytes(value.replace("+", " "))
    for charset in ("utf-8", *charsets):
        try:
            return raw.decode(charset)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("utf-8", errors="replace")


def _search_term(entry: ReferrerEntry, parts: _Parts) -> str | None:
    """The engine's search term, normalised as Matomo does (trimmed, lower-case), or ``None``.

    Besides the engine's parameters and patterns on the query, this reads what Matomo reads:
    the fragment (``#q=...``, instant search), Google Images' ``prev`` parameter (the term sits
    in the nested URL) and Google's advanced-search fields (``as_q``, ``as_epq``, ...). An opaque
    id in the term's place is no term.
    """
    term = _raw_term(entry, parts.path, parts.query)
    if term is None and parts.fragment:
        term = _raw_term(entry, "", parts.fragment.lstrip("!/?"))
    values = _query(parts.query, entry.charsets)
    if term is None and values.get("prev"):
        nested = _split(values["prev"])
        if nested is not None:
            term = _raw_term(entry, nested.path, nested.query)
    if term is None:
        term = _advanced_search(values)
    if term is None or is_opaque_id(term):
        return None
    return " ".join(term.split()).lower()[:_MAX_TERM] or None


def _raw_term(entry: ReferrerEntry, path: str, query: str) -> str | None:
    values = _query(query, entry.charsets)
    for param in entry.params:
        term = values.get(param.lower())
        if term and term.strip():
            return term
    target = path + ("?" + query if query else "")
    for pattern in entry.patterns:
        match = pattern.search(target)
        if match and match.groups() and match.group(1):
            return _decode(match.group(1), entry.charsets)
    return None


def _advanced_search(values: Mapping[str, str]) -> str | None:
    """Google's advanced search form: all words, any word, exact phrase, none of the words."""
    parts = [
        values.get("as_q", "").strip(),
        " OR ".join(values.get("as_oq", "").split()),
        f'"{values["as_epq"].strip()}"' if values.get("as_epq", "").strip() else "",
        f"-{values['as_eq'].strip()}" if values.get("as_eq", "").strip() else "",
    ]
    joined = " ".join(part for part in parts if part)
    return joined or None


def _click_id(query: Mapping[str, str]) -> str | None:
    return next((name for name in CLICK_IDS if query.get(name)), None)


def _token(value: str) -> str:
    return re.sub(r"[\s_\-.]+", "", value.lower())


def _strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host
