"""Which tracker events Herald flags as automated, and why."""

import pytest

from herald.bots import KNOWN_REASONS, EventKind, automated_reason, user_agent_traits

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15"
)
IOS_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36"
)
ANDROID_GMAIL_WEBVIEW = (
    "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.107 Mobile Safari/537.36"
)
EDGE_WINDOWS = CHROME_WINDOWS + " Edg/131.0.0.0"
OUTLOOK_2013_IMAGE_FETCH = (
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1; WOW64; Trident/7.0; SLCC2; "
    ".NET CLR 2.0.50727; .NET4.0C; .NET4.0E; Microsoft Outlook 15.0.4693; ms-office; MSOffice 15)"
)
GMAIL_IMAGE_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_MAIL_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
BING_PREVIEW = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b"
)
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36"
)

APPLE_IP = "17.58.0.1"
OTHER_IP = "203.0.113.7"

PEOPLE = [
    pytest.param(CHROME_WINDOWS, id="chrome-windows"),
    pytest.param(FIREFOX_LINUX, id="firefox-linux"),
    pytest.param(SAFARI_MAC, id="safari-mac"),
    pytest.param(IOS_MAIL, id="ios-mail"),
    pytest.param(ANDROID_CHROME, id="android-chrome"),
    pytest.param(ANDROID_GMAIL_WEBVIEW, id="android-webview"),
    pytest.param(EDGE_WINDOWS, id="edge-windows"),
]


@pytest.mark.parametrize("user_agent", PEOPLE)
@pytest.mark.parametrize("kind", ["open", "click", "page"])
def test_browsers_and_mail_apps_are_people(kind: EventKind, user_agent: str) -> None:
    reason = automated_reason(
        kind=kind,
        user_agent=user_agent,
        ip=OTHER_IP,
        seconds_after_send=3600.0,
    )
    assert reason is None


@pytest.mark.parametrize("kind", ["open", "click", "page"])
def test_a_head_request_is_a_scanner_probe_whatever_the_client(kind: EventKind) -> None:
    reason = automated_reason(
        kind=kind,
        user_agent=CHROME_WINDOWS,
        ip=OTHER_IP,
        method="HEAD",
    )
    assert reason == "head_request"


def test_method_case_does_not_matter() -> None:
    assert automated_reason(kind="click", user_agent=CHROME_WINDOWS, ip=None, method="head") == (
        "head_request"
    )


def test_an_open_from_apples_network_is_mail_privacy_protection() -> None:
    assert automated_reason(kind="open", user_agent=IOS_MAIL, ip=APPLE_IP) == "apple_mail_privacy"


def test_an_open_from_apples_network_over_ipv6_mapped_address_is_mail_privacy_protection() -> None:
    reason = automated_reason(kind="open", user_agent=IOS_MAIL, ip="::ffff:17.58.0.1")
    assert reason == "apple_mail_privacy"


def test_a_page_view_from_apples_network_is_a_person() -> None:
    assert automated_reason(kind="page", user_agent=SAFARI_MAC, ip=APPLE_IP) is None


def test_a_click_from_apples_network_is_a_person() -> None:
    assert automated_reason(kind="click", user_agent=SAFARI_MAC, ip=APPLE_IP) is None


def test_an_open_with_the_bare_mozilla_user_agent_is_mail_privacy_protection() -> None:
    reason = automated_reason(kind="open", user_agent="Mozilla/5.0", ip=OTHER_IP)
    assert reason == "apple_mail_privacy"


def test_an_open_through_gmails_image_proxy_is_flagged() -> None:
    reason = automated_reason(kind="open", user_agent=GMAIL_IMAGE_PROXY, ip=OTHER_IP)
    assert reason == "gmail_image_proxy"


def test_an_open_through_yahoos_mail_proxy_is_flagged() -> None:
    reason = automated_reason(kind="open", user_agent=YAHOO_MAIL_PROXY, ip=OTHER_IP)
    assert reason == "yahoo_mail_proxy"


def test_the_apple_network_wins_over_the_user_agent_on_an_open() -> None:
    reason = automated_reason(kind="open", user_agent=GMAIL_IMAGE_PROXY, ip=APPLE_IP)
    assert reason == "apple_mail_privacy"


def test_a_mail_proxy_user_agent_outside_an_open_is_a_crawler() -> None:
    reason = automated_reason(kind="click", user_agent=GMAIL_IMAGE_PROXY, ip=OTHER_IP)
    assert reason == "crawler"


def test_an_open_in_desktop_outlook_is_a_person() -> None:
    reason = automated_reason(kind="open", user_agent=OUTLOOK_2013_IMAGE_FETCH, ip=OTHER_IP)
    assert reason is None


def test_desktop_outlook_fetching_a_web_page_is_a_crawler() -> None:
    reason = automated_reason(kind="page", user_agent=OUTLOOK_2013_IMAGE_FETCH, ip=OTHER_IP)
    assert reason == "crawler"


@pytest.mark.parametrize(
    "user_agent",
    [
        pytest.param(BING_PREVIEW, id="bing-preview"),
        pytest.param("Microsoft Office Existence Discovery", id="office-existence-discovery"),
        pytest.param("Mozilla/5.0 (compatible; Barracuda Sentinel (EE))", id="barracuda"),
        pytest.param(
            "Mozilla/5.0 (compatible; Google-Safety; +http://www.google.com/bot.html)",
            id="google-safety",
        ),
    ],
)
def test_a_security_scanner_following_a_link_is_a_link_scanner(user_agent: str) -> None:
    reason = automated_reason(kind="click", user_agent=user_agent, ip=OTHER_IP)
    assert reason == "link_scanner"


@pytest.mark.parametrize(
    "user_agent",
    [
        pytest.param("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", id="slack"),
        pytest.param("TelegramBot (like TwitterBot)", id="telegram"),
        pytest.param("WhatsApp/2.23.20.0 A", id="whatsapp"),
        pytest.param(
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            id="facebook",
        ),
        pytest.param("Twitterbot/1.0", id="twitter"),
        pytest.param("Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", id="skype"),
        pytest.param(
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", id="discord"
        ),
        pytest.param(
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            id="linkedin",
        ),
    ],
)
def test_a_chat_app_drawing_a_preview_card_is_a_link_preview(user_agent: str) -> None:
    reason = automated_reason(kind="click", user_agent=user_agent, ip=OTHER_IP)
    assert reason == "link_preview"


@pytest.mark.parametrize("user_agent", ["", "   ", None])
def test_a_click_without_a_user_agent_is_a_link_scanner(user_agent: str | None) -> None:
    assert automated_reason(kind="click", user_agent=user_agent, ip=OTHER_IP) == "link_scanner"


@pytest.mark.parametrize("kind", ["open", "page"])
def test_an_open_or_page_view_without_a_user_agent_is_not_flagged(kind: EventKind) -> None:
    reason = automated_reason(kind=kind, user_agent=None, ip=None)
    assert reason is None


@pytest.mark.parametrize(
    ("kind", "seconds_after_send", "expected"),
    [
        ("click", 0.0, "too_fast"),
        ("click", 1.999, "too_fast"),
        ("click", 2.0, None),
        ("open", 0.5, "too_fast"),
        ("open", 0.999, "too_fast"),
        ("open", 1.0, None),
        ("open", 1.5, None),
        ("page", 0.0, None),
        ("click", None, None),
    ],
)
def test_too_fast_thresholds(
    kind: EventKind, seconds_after_send: float | None, expected: str | None
) -> None:
    reason = automated_reason(
        kind=kind,
        user_agent=CHROME_WINDOWS,
        ip=OTHER_IP,
        seconds_after_send=seconds_after_send,
    )
    assert reason == expected


@pytest.mark.parametrize(
    "user_agent",
    [
        pytest.param(GOOGLEBOT, id="googlebot"),
        pytest.param(BINGBOT, id="bingbot"),
        pytest.param("curl/8.5.0", id="curl"),
        pytest.param("Wget/1.21.4", id="wget"),
        pytest.param("python-requests/2.32.3", id="python-requests"),
        pytest.param("python-httpx/0.27.0", id="python-httpx"),
        pytest.param("Python/3.11 aiohttp/3.9.5", id="aiohttp"),
        pytest.param("Go-http-client/2.0", id="go"),
        pytest.param("Java/17.0.2", id="java"),
        pytest.param("okhttp/4.12.0", id="okhttp"),
        pytest.param(HEADLESS_CHROME, id="headless-chrome"),
        pytest.param(
            "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
            "PhantomJS/2.1.1 Safari/538.1",
            id="phantomjs",
        ),
    ],
)
@pytest.mark.parametrize("kind", ["open", "click", "page"])
def test_crawlers_and_scripts_are_crawlers(kind: EventKind, user_agent: str) -> None:
    reason = automated_reason(kind=kind, user_agent=user_agent, ip=OTHER_IP)
    assert reason == "crawler"


def test_an_app_built_on_okhttp_is_a_person() -> None:
    user_agent = "MyShopApp/3.2 (Android 14) okhttp/4.12.0"
    assert automated_reason(kind="page", user_agent=user_agent, ip=OTHER_IP) is None


def test_too_fast_is_decided_before_crawler() -> None:
    reason = automated_reason(
        kind="click", user_agent="curl/8.5.0", ip=None, seconds_after_send=0.1
    )
    assert reason == "too_fast"


@pytest.mark.parametrize("ip", [None, "", "not an address", "2001:db8::1", "17.0.0.0.1"])
def test_missing_or_odd_addresses_are_not_apple(ip: str | None) -> None:
    assert automated_reason(kind="open", user_agent=IOS_MAIL, ip=ip) is None


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tracker event kind"):
        automated_reason(kind="bounce", user_agent=CHROME_WINDOWS, ip=None)  # type: ignore[arg-type]


def test_every_reason_code_is_short_snake_case_and_listed_once() -> None:
    assert len(set(KNOWN_REASONS)) == len(KNOWN_REASONS)
    assert all(code.isidentifier() and code == code.lower() for code in KNOWN_REASONS)


def test_a_hundred_thousand_events_over_a_thousand_user_agents_hit_the_cache() -> None:
    user_agents = [f"{CHROME_WINDOWS} Build/{number}" for number in range(1_000)]
    user_agent_traits.cache_clear()

    reasons = [
        automated_reason(kind="click", user_agent=user_agents[number % 1_000], ip=OTHER_IP)
        for number in range(100_000)
    ]

    cache = user_agent_traits.cache_info()
    assert (cache.misses, cache.hits) == (1_000, 99_000)
    assert set(reasons) == {None}
