"""Device type, OS, browser, touch and bots from the User-Agent."""

from __future__ import annotations

import pytest

from intent.situation.devices import DeviceDetector, resolver_name

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
SAMSUNG_TV = (
    "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"
)
PLAYSTATION = (
    "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.0 Safari/605.1.15"
)
WATCH = "atc/1.0 watchOS/5.1.3 model/Watch3,4 hwp/t8004 build/16S535 (6; dt:156)"


@pytest.fixture(scope="module")
def detector() -> DeviceDetector:
    return DeviceDetector(cache_size=64)


def test_the_native_resolver_is_used() -> None:
    assert resolver_name() == "ua-parser-rs"


def test_desktop_browser(detector: DeviceDetector) -> None:
    device = detector.detect(CHROME_WINDOWS)
    assert (device.type, device.os, device.browser, device.browser_version) == (
        "desktop", "Windows", "Chrome", "124.0.0"
    )
    assert not device.is_touch and not device.is_bot


@pytest.mark.parametrize(
    ("agent", "kind", "os"),
    [
        (IPHONE, "mobile", "iOS"),
        (ANDROID_PHONE, "mobile", "Android"),
        (IPAD, "tablet", "iOS"),
        (SAMSUNG_TV, "tv", "Tizen"),
        (PLAYSTATION, "console", None),
        (WATCH, "wearable", "WatchOS"),
    ],
)
def test_device_types(detector: DeviceDetector, agent: str, kind: str, os: str | None) -> None:
    device = detector.detect(agent)
    assert device.type == kind
    if os is not None:
        assert device.os == os
    assert not device.is_bot


def test_phones_are_touch(detector: DeviceDetector) -> None:
    device = detector.detect(IPHONE)
    assert device.is_touch and device.os_version == "17.4"


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        "curl/8.4.0",
        "python-requests/2.31.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (compatible; ExampleMonitor/1.0; +https://monitor.example/)",
        "Acme Uptime Checker",
        "SomeInternalService/3.2",  # nothing a person browses with
    ],
)
def test_bots(detector: DeviceDetector, agent: str) -> None:
    device = detector.detect(agent)
    assert device.is_bot and device.type == "bot" and not device.is_touch


def test_unknown_agents_can_be_left_unflagged() -> None:
    lenient = DeviceDetector(unknown_agents_are_bots=False)
    device = lenient.detect("SomeInternalService/3.2")
    assert (device.type, device.is_bot) == ("other", False)


def test_phone_brand_named_like_a_bot_is_not_one(detector: DeviceDetector) -> None:
    agent = (
        "Mozilla/5.0 (Linux; Android 4.2.2; CUBOT X6 Build/JDQ39) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/34.0.1847.114 Mobile Safari/537.36"
    )
    assert detector.detect(agent).type == "mobile"


@pytest.mark.parametrize("agent", [None, ""])
def test_missing_agents_are_other_not_bots(detector: DeviceDetector, agent: str | None) -> None:
    device = detector.detect(agent)
    assert (device.type, device.is_bot, device.os, device.browser) == ("other", False, None, None)


def test_garbage_agent_is_an_unrecognised_program(detector: DeviceDetector) -> None:
    device = detector.detect("-")
    assert (device.type, device.os, device.browser) == ("bot", None, None)


def test_absurdly_long_agent_is_truncated_not_parsed_whole(detector: DeviceDetector) -> None:
    huge = IPHONE + " " + "x" * 100_000
    device = detector.detect(huge)
    assert device == detector.detect(huge[: detector.max_length])
    assert device.type == "mobile"


def test_repeated_agents_come_from_the_cache() -> None:
    detector = DeviceDetector(cache_size=2)
    detector.detect(CHROME_WINDOWS)
    detector.detect(CHROME_WINDOWS)
    assert detector.cache_info()["hits"] == 1
    detector.detect(IPHONE)
    detector.detect(IPAD)
    assert detector.cache_info()["size"] == 2


# Chrome's reduced agent: "Android 10; K" whatever the device, "Mobile" only on phones.
REDUCED_ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("hints", "kind"),
    [
        ({}, "tablet"),  # no "Mobile", nothing else known: Google's convention says tablet
        ({"mobile": True, "platform": "Android"}, "mobile"),
        ({"model": "SM-S918B"}, "mobile"),  # Galaxy S23 Ultra
        ({"model": "SM-X710", "mobile": False, "platform": "Android"}, "tablet"),  # Galaxy Tab S9
        ({"mobile": False, "platform": "Android", "model": "BRAVIA 4K VH2"}, "tv"),
    ],
)
def test_client_hints_decide_what_the_reduced_agent_hides(
    detector: DeviceDetector, hints: dict[str, object], kind: str
) -> None:
    assert detector.detect(REDUCED_ANDROID, **hints).type == kind  # type: ignore[arg-type]


def test_client_hints_make_a_reduced_desktop_agent_a_desktop(detector: DeviceDetector) -> None:
    # A desktop-mode request from an unknown Linux build, with hints saying "not mobile, Linux".
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0"
    assert detector.detect(agent, mobile=False, platform="Linux").type == "desktop"
    assert detector.detect(REDUCED_ANDROID, mobile=True).type == "mobile"
    # The cache keys on the hints too: the same agent without them is still the tablet.
    assert detector.detect(REDUCED_ANDROID).type == "tablet"


@pytest.mark.parametrize(
    ("agent", "kind"),
    [
        ("Dalvik/2.1.0 (Linux; U; Android 9; Redmi Note 7 Build/PKQ1.180904.001)", "mobile"),
        ("Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)", "mobile"),
        ("Dalvik/2.1.0 (Linux; U; Android 11; QX-4711 Build/RP1A.200720.011)", "mobile"),
        ("Dalvik/2.1.0 (Linux; U; Android 12; SM-X200 Build/SP1A.210812.016)", "tablet"),
        ("Dalvik/2.1.0 (Linux; U; Android 9; BRAVIA 4K UR2 Build/PTT1.190515.001.S52)", "tv"),
    ],
)
def test_dalvik_apps_read_as_the_device_they_run_on(
    detector: DeviceDetector, agent: str, kind: str
) -> None:
    device = detector.detect(agent)
    assert (device.type, device.is_bot) == (kind, False)


@pytest.mark.parametrize(
    ("agent", "kind"),
    [
        (
            "Microsoft Office Word/16.78.1008 (Mac OS/14.0; Desktop; de-DE; NonAppStore; "
            "Apple/Mac14,9)",
            "desktop",
        ),
        (
            "Microsoft Office Excel/2.79.1 (iOS/17.1; Tablet; de-DE; AppStore; Apple/iPad13,1)",
            "tablet",
        ),
        ("WhatsApp/2.23.20.0 Android/13 Device/samsung-SM-A536B", "mobile"),
        (
            "Mozilla/5.0 (Linux; Android 8.1.0; XBot Junior) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/87.0.4280.101 Mobile Safari/537.36",
            "mobile",
        ),
    ],
)
def test_office_whatsapp_and_phones_called_bot_are_people(
    detector: DeviceDetector, agent: str, kind: str
) -> None:
    device = detector.detect(agent)
    assert not device.is_bot
    assert device.type == kind


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "python-requests/2.31.0",
        "curl/8.4.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/124.0.0.0 Safari/537.36",
    ],
)
def test_real_crawlers_are_bots(detector: DeviceDetector, agent: str) -> None:
    device = detector.detect(agent)
    assert device.is_bot and device.type == "bot"
