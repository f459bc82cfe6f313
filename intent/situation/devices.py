"""Device, OS, browser and bot from the User-Agent (and the client hints, when forwarded).

Parsing uses ua-parser's precompiled rules through the fastest resolver installed (the native
``ua-parser-rs`` one when present, as ``ua_parser.BestAvailableResolver`` picks it) for OS and
browser. The device type comes first from Matomo Device Detector's brand and model lists
(:mod:`intent.situation.hardware`), with ``Sec-CH-UA-Model`` restoring the model that Chrome's
reduced agent hides, then from ``Sec-CH-UA-Mobile`` / ``Sec-CH-UA-Platform``, then from Matomo's
post-rules (TV fragments, desktop operating systems, Chrome's ``Mobile`` keyword on Android) and
the ``user-agents`` package's heuristics.

Bots are what ua-parser calls a ``Spider`` and what Matomo's bot list names. Broader signals
follow, unless Matomo's lists know the agent as a device or an app (Office, WhatsApp, Dalvik
apps, a phone model called "M bot 54"): CrawlerDetect's maintained pattern list, agents that
announce themselves as automated in the generic ways browsers never do (a URL in the agent, a
headless or automation driver, words like crawler, monitor, webhook, preview), and, unless
``unknown_agents_are_bots=False``, agents in which nothing at all is recognisable.
Results are cached per agent string and hints in a bounded LRU; agents are truncated to
``max_length`` characters before anything reads them, so a 100 KB header costs no more than a
1 KB one.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache, lru_cache
from typing import Any, Final

import ua_parser
from crawlerdetect.crawlerdetect import get_compiled_exclusions_regex
from crawlerdetect.providers.crawlers import data as crawler_patterns
from user_agents.parsers import (
    TABLET_DEVICE_FAMILIES,
    UserAgent,
    parse_browser,
    parse_device,
    parse_operating_system,
)

from intent.situation.hardware import MatomoDevices, matomo_devices
from intent.situation.models import Device, DeviceType

# Agents that say they are automated in ways no browser does (case-insensitive).
_AUTOMATED: Final = re.compile(
    r"https?://|\bwww\.[a-z0-9-]+\.[a-z]"  # a URL: browsers never carry one
    r"|headless|phantomjs|selenium|playwright|puppeteer|webdriver|electron/.*\bsplash\b"
    r"|\b(?:bot|crawler|spider|scraper|scanner|fetcher|archiver|indexer|harvester)\b"
    r"|[a-z](?<!cu)(?:bot|crawler|spider|scraper|scanner)\b"  # CUBOT is a phone brand
    r"|(?:monitor|synthetic|uptime|webhook|health-?check|validator|unfurl|preview|audit|checker)"
    r"|\b[a-z-]+-ai\b|\bai[/-]|\bhttp[ -]?client\b|\bapi client\b|\bparser\b|\bscan(?:ning)?\b",
    re.IGNORECASE,
)
_TV: Final = re.compile(
    r"smart-?tv|smart tv|hbbtv|apple ?tv|google ?tv|android tv|\bAFT[A-Z]|crkey|roku|bravia"
    r"|web0s|webos.tv|netcast|tizen.*\btv\b|philipstv|viera|\btv\b",
    re.IGNORECASE,
)
_GENERIC_TYPES: Final[dict[str, DeviceType]] = {
    "Generic Smartphone": "mobile",
    "Generic Feature Phone": "mobile",
    "Generic Tablet": "tablet",
}
_CONSOLE: Final = re.compile(r"playstation|xbox|nintendo", re.IGNORECASE)
# Chrome's reduced agent ("Android 10; K") hides the model; Sec-CH-UA-Model restores it.
_REDUCED_MODEL: Final = re.compile(r"(Android [\d.]+; )K(?=[;)])")
_DESKTOP_PLATFORMS: Final = frozenset({"windows", "macos", "linux", "chrome os", "chromeos"})
# Matomo's post-rules: fragments that name a TV whatever the brand rules said (ALWAYS), or when
# they said nothing (UNKNOWN); operating systems that only desktops and laptops run.
_TV_ALWAYS: Final = re.compile(
    r"Andr0id|(?:Android(?: UHD)?|Google) TV|\(lite\) TV|BRAVIA|Firebolt| TV$|Opera TV Store| OMI/"
)
_TV_UNKNOWN: Final = re.compile(r"SmartTV|Tizen.+ TV .+$|\(TV;")
_DESKTOP_OS: Final = frozenset({
    "Windows", "Mac OS X", "Mac OS", "Linux", "Ubuntu", "Kubuntu", "Debian", "Fedora", "Red Hat",
    "Gentoo", "Mint", "SUSE", "openSUSE", "Slackware", "Mandriva", "CentOS", "Arch Linux",
    "FreeBSD", "OpenBSD", "NetBSD", "Solaris", "Chrome OS", "ChromeOS", "BeOS", "Haiku",
    "AmigaOS", "MorphOS", "OS/2", "IRIX", "AIX", "HP-UX",
})  # fmt: skip
_ANDROID_TABLET: Final = re.compile(r"Android(?: [.0-9]+)?; Tablet;|Opera Tablet|Pad/APad")
_WEARABLE: Final = re.compile(r"watchos|wear ?os|\bwatch\d|apple watch", re.IGNORECASE)


def resolver_name() -> str:
    """Which ua-parser resolver backs the parser: ``ua-parser-rs``, ``re2`` or ``basic``."""
    if ua_parser.BestAvailableResolver is ua_parser.RegexResolver:
        return "ua-parser-rs"
    if ua_parser.BestAvailableResolver is ua_parser.Re2Resolver:
        return "re2"
    return "basic"


class DeviceDetector:
    """Read a :class:`Device` from a User-Agent string.

    ``cache_size`` bounds the LRU of parsed agents; ``max_length`` is where agents are cut.
    Thread-safe. The first detector in a process compiles the rules (ua-parser's about 0.5 s,
    Matomo's device, bot and app lists a few seconds); later ones share them.
    """

    def __init__(
        self,
        *,
        cache_size: int = 10_000,
        max_length: int = 1024,
        unknown_agents_are_bots: bool = True,
    ) -> None:
        assert cache_size >= 0 and max_length > 0, "cache_size >= 0 and max_length > 0"
        self.max_length = max_length
        self.unknown_agents_are_bots = unknown_agents_are_bots
        self._resolver = _resolver()
        self._crawlers = _crawler_matcher()
        self._exclusions = get_compiled_exclusions_regex()
        self._matomo: MatomoDevices = matomo_devices()
        self._cached = lru_cache(maxsize=cache_size)(self._detect)

    def detect(
        self,
        user_agent: str | None,
        *,
        mobile: bool | None = None,
        platform: str | None = None,
        model: str | None = None,
    ) -> Device:
        """Return the device; an empty or unrecognised agent is type ``other``, never an error.

        ``mobile``, ``platform`` and ``model`` are the User-Agent Client Hints
        (``Sec-CH-UA-Mobile``, ``Sec-CH-UA-Platform``, ``Sec-CH-UA-Model``) when the site
        forwards them; they decide the type where Chrome's reduced agent hides the device.
        """
        if not user_agent:
            return Device()
        cut = self.max_length
        return self._cached(
            user_agent[:cut], mobile, platform[:cut] if platform else None,
            model[:cut] if model else None,
        )  # fmt: skip

    def is_bot(self, user_agent: str) -> bool:
        """Whether the agent is a crawler, bot or automated client (uncached)."""
        user_agent = user_agent[: self.max_length]
        result = self._resolver(user_agent, ua_parser.Domain.ALL).complete().with_defaults()
        return self._is_bot(user_agent, result, self._matomo.device_type(user_agent))

    def cache_info(self) -> dict[str, int | None]:
        """Hits, misses, current size and bound of the agent cache."""
        info = self._cached.cache_info()
        return {
            "hits": info.hits,
            "misses": info.misses,
            "size": info.currsize,
            "maxsize": info.maxsize,
        }

    def _is_bot(
        self, user_agent: str, result: ua_parser.DefaultedResult, brand_type: DeviceType | None
    ) -> bool:
        if result.device.family == "Spider" or self._matomo.is_bot(user_agent):
            return True
        # The broad signals below yield to Matomo's device and app lists: a "Microsoft Office
        # Word/16 (Mac OS...)", a "WhatsApp/2.18 Android/6.0" or a phone called "M bot 54" is a
        # person's app or handset, not a crawler.
        if brand_type is not None or self._matomo.is_app(user_agent):
            return False
        if _AUTOMATED.search(user_agent):
            return True
        if self.unknown_agents_are_bots and _unrecognised(result):
            return True
        # CrawlerDetect's procedure: remove ordinary browser tokens, then look for crawler names.
        stripped = self._exclusions.sub("", user_agent)
        return bool(stripped.strip()) and self._crawlers.matches(stripped)

    def _detect(
        self, user_agent: str, mobile: bool | None, platform: str | None, model: str | None
    ) -> Device:
        result = self._resolver(user_agent, ua_parser.Domain.ALL).complete().with_defaults()
        agent = _ParsedAgent(user_agent, result)
        brand_type = self._matomo.device_type(user_agent)
        is_bot = self._is_bot(user_agent, result, brand_type)
        os_family = _known(result.os.family)
        browser = _known(result.user_agent.family)
        kind: DeviceType = "bot"
        if not is_bot:
            hinted = self._hinted_type(user_agent, brand_type, mobile, platform, model)
            kind = hinted or _device_type(agent)
        return Device(
            type=kind,
            os=os_family,
            os_version=(agent.os.version_string or None) if os_family else None,
            browser=browser,
            browser_version=(agent.browser.version_string or None) if browser else None,
            is_touch=bool(agent.is_touch_capable) and not is_bot,
            is_bot=is_bot,
        )

    def _hinted_type(
        self,
        user_agent: str,
        brand_type: DeviceType | None,
        mobile: bool | None,
        platform: str | None,
        model: str | None,
    ) -> DeviceType | None:
        """The type Matomo's brand and model rules give, with the model from the client hints
        where the agent hides it; else what the hints say about mobile and platform."""
        if model:
            restored = _REDUCED_MODEL.sub(lambda m: m.group(1) + model, user_agent)
            if restored == user_agent:
                restored = f"{user_agent} ({model} Build/)"
            found = self._matomo.device_type(restored) or brand_type
        else:
            found = brand_type
        if found is not None:
            return "tv" if _TV_ALWAYS.search(user_agent) else found
        if mobile:
            return "mobile"
        if mobile is False and platform:
            name = platform.lower()
            if name in _DESKTOP_PLATFORMS:
                return "desktop"
            if name == "android" and not _TV.search(user_agent):
                return "tablet"
        return None


class _ParsedAgent(UserAgent):  # type: ignore[misc]
    """``user_agents.UserAgent`` fed by the fast resolver instead of ua-parser's legacy API."""

    def __init__(self, user_agent: str, result: ua_parser.DefaultedResult) -> None:
        ua, os, device = result.user_agent, result.os, result.device
        self.ua_string = user_agent
        self.os = parse_operating_system(os.family, os.major, os.minor, os.patch, os.patch_minor)
        self.browser = parse_browser(ua.family, ua.major, ua.minor, ua.patch)
        self.device = parse_device(device.family, device.brand, device.model)


def _device_type(agent: _ParsedAgent) -> DeviceType:
    """The type when Matomo's brand rules and the client hints say nothing."""
    ua = agent.ua_string
    if _CONSOLE.search(ua):
        return "console"
    if _WEARABLE.search(ua) or "Watch" in (agent.device.family or ""):
        return "wearable"
    if _TV.search(ua) or _TV_ALWAYS.search(ua) or _TV_UNKNOWN.search(ua):
        return "tv"
    family = agent.device.family
    if family in _GENERIC_TYPES:
        return _GENERIC_TYPES[family]
    if family in TABLET_DEVICE_FAMILIES:
        return "tablet"
    if agent.os.family == "Android":
        if _ANDROID_TABLET.search(ua):
            return "tablet"
        # Google's convention for Chrome: Android phones say "Mobile", tablets do not. Apps
        # (Dalvik, WebViews of apps) rarely say either, and most of them run on phones.
        if "Chrome/" in ua and "Mobile" not in ua:
            return "tablet"
        return "mobile"
    if agent.is_tablet:
        return "tablet"
    if agent.is_mobile:
        return "mobile"
    if agent.is_pc or agent.os.family in _DESKTOP_OS or agent.os.family.startswith("Windows"):
        return "desktop"
    if agent.device.brand:
        # A branded handset that user-agents' heuristics miss: feature phones, Windows CE, i-mode.
        return "mobile"
    return "other"


class _CrawlerMatcher:
    """CrawlerDetect's 1,400 patterns, in ua-parser-rs's linear-time engine when installed.

    Python's backtracking ``re`` takes about 0.5 ms per agent on the joined pattern (p99 11 ms);
    the Rust regex set ua-parser uses takes microseconds and agrees on every agent of the
    uap-core and crawler test files. Patterns with look-around, which it lacks, stay in ``re``.
    """

    _LOOKAROUND: Final = re.compile(r"\(\?<?[=!]")

    def __init__(self, patterns: list[str]) -> None:
        self._native: Any = None
        rest = list(patterns)
        if importlib.util.find_spec("ua_parser_rs") is not None:
            import ua_parser_rs  # type: ignore[import-not-found,unused-ignore]

            native = [p for p in patterns if not self._LOOKAROUND.search(p)]
            rest = [p for p in patterns if self._LOOKAROUND.search(p)]
            self._native = ua_parser_rs.UserAgentExtractor(
                [(f"(?i)(?:{p})", "bot", None, None, None, None) for p in native]
            )
        self._python = re.compile("|".join(rest), re.IGNORECASE) if rest else None

    def matches(self, text: str) -> bool:
        if self._native is not None and self._native.extract(text) is not None:
            return True
        return self._python is not None and self._python.search(text) is not None


# Compiled rules are immutable and thread-safe: built on first use, shared by every detector.
@cache
def _resolver() -> ua_parser.Resolver:
    if resolver_name() == "basic":
        return ua_parser.BestAvailableResolver(ua_parser.load_builtins())
    return ua_parser.BestAvailableResolver(ua_parser.load_lazy_builtins())


@cache
def _crawler_matcher() -> _CrawlerMatcher:
    return _CrawlerMatcher(crawler_patterns)


def _unrecognised(result: ua_parser.DefaultedResult) -> bool:
    return (
        result.user_agent.family == "Other"
        and result.os.family == "Other"
        and result.device.family == "Other"
    )


def _known(family: str | None) -> str | None:
    return None if not family or family == "Other" else family
