"""Flag tracker events that a machine, not a person, caused.

Mail privacy proxies fetch open pixels, security scanners and chat apps pre-fetch links,
and crawlers walk websites. Such events are kept but flagged with a short reason code
so that reports can leave them out.

The loader calls `automated_reason` once per event in batches of tens of thousands, so
everything that depends only on the user agent is worked out once per distinct user agent
(`user_agent_traits`, an LRU cache) and the IP check is a parse and one `in` test.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from crawlerdetect import CrawlerDetect

AutomatedReason = str  # short snake_case code, one of KNOWN_REASONS

EventKind = Literal["open", "click", "page"]

HEAD_REQUEST = "head_request"
APPLE_MAIL_PRIVACY = "apple_mail_privacy"
GMAIL_IMAGE_PROXY = "gmail_image_proxy"
YAHOO_MAIL_PROXY = "yahoo_mail_proxy"
LINK_SCANNER = "link_scanner"
LINK_PREVIEW = "link_preview"
TOO_FAST = "too_fast"
CRAWLER = "crawler"

# In the order `automated_reason` decides them.
KNOWN_REASONS: tuple[AutomatedReason, ...] = (
    HEAD_REQUEST,
    APPLE_MAIL_PRIVACY,
    GMAIL_IMAGE_PROXY,
    YAHOO_MAIL_PROXY,
    LINK_SCANNER,
    LINK_PREVIEW,
    TOO_FAST,
    CRAWLER,
)

# --- Patterns ---------------------------------------------------------------------------
# Every entry is a literal, case-insensitive substring of the User-Agent header unless the
# tuple's name says otherwise.

# Gmail fetches images through its proxy ("... (via ggpht.com GoogleImageProxy)"), as Google
# announced in 2013 and as every e-mail service provider's documentation describes.
GMAIL_IMAGE_PROXY_TOKENS: tuple[str, ...] = ("GoogleImageProxy", "ggpht.com")

# Yahoo's image proxy names its help page in the header:
# "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html".
YAHOO_MAIL_PROXY_TOKENS: tuple[str, ...] = ("YahooMailProxy",)

# The whole User-Agent that Apple Mail Privacy Protection sends when it pre-fetches
# remote content (common knowledge among e-mail service providers since iOS 15).
APPLE_MAIL_PRIVACY_USER_AGENT = "Mozilla/5.0"

# Security gateways that follow links (and sometimes load images) before the recipient
# does. Most of them send an ordinary browser User-Agent (Microsoft Defender Safe Links
# and Proofpoint usually do), so only the fetches that name their vendor are caught here;
# the rest are left to `too_fast` and `head_request`. Vendor names are common knowledge;
# "BingPreview" is Outlook.com visiting links in mail (phpList issue #415), the two
# "Microsoft Office ... Discovery" agents are Office probing a link before opening it,
# "Barracuda Sentinel" and "Google-Safety" appear in Crawler-Detect's list.
SECURITY_SCANNER_TOKENS: tuple[str, ...] = (
    "BingPreview",
    "Microsoft Office Existence Discovery",
    "Microsoft Office Protocol Discovery",
    "Google-Safety",
    "Proofpoint",
    "Mimecast",
    "Barracuda",
    "IronPort",
    "Cisco",
    "Symantec",
    "Broadcom",
    "TrendMicro",
    "Trend Micro",
    "Sophos",
    "Forcepoint",
    "Websense",
    "FireEye",
    "Trellix",
    "Bitdefender",
)

# Chat and social apps that fetch a link to draw a preview card when someone pastes it.
# That is a machine fetch, but not a security scan: the link was shared, so these get
# their own code, `link_preview`. Tokens from each service's published crawler
# documentation (Slack, Telegram, Meta, X, Discord, LinkedIn, Skype).
LINK_PREVIEW_TOKENS: tuple[str, ...] = (
    "Slackbot-LinkExpanding",
    "Slack-ImgProxy",
    "TelegramBot",
    "WhatsApp/",
    "facebookexternalhit",
    "Facebot",
    "Twitterbot",
    "SkypeUriPreview",
    "Discordbot",
    "LinkedInBot",
)

# HTTP libraries, command-line tools and headless browsers (common knowledge). Crawler-
# Detect knows these too; they are listed here so the intent survives a library update.
HTTP_TOOL_TOKENS: tuple[str, ...] = (
    "curl/",
    "Wget/",
    "python-requests/",
    "python-httpx/",
    "python-urllib/",
    "aiohttp/",
    "Go-http-client/",
    "HeadlessChrome",
    "PhantomJS",
)

# Tools that count only when they start the header: a mobile app that names itself before
# "okhttp/4.12.0" is an app a person uses, a bare "okhttp/4.12.0" or "Java/17" is a script.
HTTP_TOOL_PREFIXES: tuple[str, ...] = ("Java/", "okhttp/")

# Mail programs a person reads mail in. Crawler-Detect lists them as crawlers (its
# maintainers see them fetch web pages, Crawler-Detect issue #430 and pull request #278),
# but when they load an open pixel a person has opened the message, so opens from them
# are not `crawler`. The Outlook tokens appear in Outlook's image fetches, e.g.
# "... Microsoft Outlook 16.0.4954; ms-office; MSOffice 16)".
MAIL_CLIENT_TOKENS: tuple[str, ...] = (
    "Microsoft Outlook",
    "MSOffice",
    "MacOutlook/",
    "Outlook-iOS",
    "Outlook-Android",
    "Thunderbird/",
    "Airmail",
    "Canary%20Mail",
)

# Same as MAIL_CLIENT_TOKENS, but only at the start: macOS Mail's own fetches, "Mail/3826 ...".
MAIL_CLIENT_PREFIXES: tuple[str, ...] = ("Mail/",)

# Apple owns 17.0.0.0/8 and Mail Privacy Protection fetches from there. MPP also egresses
# through partner CDNs whose ranges Apple does not publish as a list we could download at
# run time (and the tracker must not depend on a download), so those fetches are caught by
# the bare "Mozilla/5.0" User-Agent instead, or not at all.
APPLE_NETWORKS: tuple[ipaddress.IPv4Network, ...] = (ipaddress.IPv4Network("17.0.0.0/8"),)

# No person clicks a link within 2 s, or has a message open within 1 s, of its delivery.
MIN_SECONDS_TO_CLICK = 2.0
MIN_SECONDS_TO_OPEN = 1.0

# Longer headers are cut before they are classified and cached, so that a hostile client
# cannot fill the cache with megabytes or make the crawler regex scan them.
MAX_USER_AGENT_LENGTH = 1024

_KINDS: frozenset[str] = frozenset({"open", "click", "page"})


def _alternatives(tokens: tuple[str, ...], *, prefix: bool = False) -> str:
    anchor = "^" if prefix else ""
    return "|".join(anchor + re.escape(token) for token in tokens)


# One case-insensitive regex; the name of the group that matched says which list it is.
_USER_AGENT_PATTERN = re.compile(
    "|".join(
        f"(?P<{name}>{alternatives})"
        for name, alternatives in (
            (GMAIL_IMAGE_PROXY, _alternatives(GMAIL_IMAGE_PROXY_TOKENS)),
            (YAHOO_MAIL_PROXY, _alternatives(YAHOO_MAIL_PROXY_TOKENS)),
            (LINK_SCANNER, _alternatives(SECURITY_SCANNER_TOKENS)),
            (LINK_PREVIEW, _alternatives(LINK_PREVIEW_TOKENS)),
            (
                "http_tool",
                _alternatives(HTTP_TOOL_TOKENS)
                + "|"
                + _alternatives(HTTP_TOOL_PREFIXES, prefix=True),
            ),
            (
                "mail_client",
                _alternatives(MAIL_CLIENT_TOKENS)
                + "|"
                + _alternatives(MAIL_CLIENT_PREFIXES, prefix=True),
            ),
        )
    ),
    re.IGNORECASE,
)

# An HTTP library named after an app's own name ("MyShopApp/3.2 (Android 14) okhttp/4.12.0"):
# removed before Crawler-Detect sees the header, because Crawler-Detect flags okhttp anywhere.
_EMBEDDED_HTTP_LIBRARY = re.compile(r"(?<=\S)\s+okhttp/[\d.]+", re.IGNORECASE)


@functools.cache
def _crawler_detect() -> CrawlerDetect:
    # Built on first use: compiling Crawler-Detect's patterns takes tens of milliseconds.
    return CrawlerDetect()


@dataclass(frozen=True, slots=True)
class UserAgentTraits:
    """What a User-Agent header alone says about the client that sent it."""

    mail_proxy: AutomatedReason | None = None  # apple_mail_privacy, gmail_…, yahoo_…
    fetcher: AutomatedReason | None = None  # link_scanner or link_preview
    crawler: bool = False
    mail_client: bool = False
    empty: bool = False


@functools.lru_cache(maxsize=65536)
def user_agent_traits(user_agent: str) -> UserAgentTraits:
    """Classify one User-Agent header; cached because a batch repeats few distinct ones."""
    header = user_agent.strip()[:MAX_USER_AGENT_LENGTH]
    if not header:
        return UserAgentTraits(empty=True)
    matched = {match.lastgroup for match in _USER_AGENT_PATTERN.finditer(header)}
    if header == APPLE_MAIL_PRIVACY_USER_AGENT:
        mail_proxy: str | None = APPLE_MAIL_PRIVACY
    elif GMAIL_IMAGE_PROXY in matched:
        mail_proxy = GMAIL_IMAGE_PROXY
    elif YAHOO_MAIL_PROXY in matched:
        mail_proxy = YAHOO_MAIL_PROXY
    else:
        mail_proxy = None
    if LINK_SCANNER in matched:
        fetcher: str | None = LINK_SCANNER
    elif LINK_PREVIEW in matched:
        fetcher = LINK_PREVIEW
    else:
        fetcher = None
    crawler = "http_tool" in matched or bool(
        _crawler_detect().is_crawler(_EMBEDDED_HTTP_LIBRARY.sub("", header))
    )
    return UserAgentTraits(
        mail_proxy=mail_proxy,
        fetcher=fetcher,
        crawler=crawler,
        mail_client="mail_client" in matched,
    )


@functools.lru_cache(maxsize=65536)
def _is_apple_address(ip: str) -> bool:
    # Parsing costs a few microseconds; Apple's proxies reuse a small pool of addresses.
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped  # "::ffff:17.58.0.1" from dual-stack sockets
        if mapped is None:
            return False
        address = mapped
    return any(address in network for network in APPLE_NETWORKS)


def automated_reason(
    *,
    kind: EventKind,
    user_agent: str | None,
    ip: str | None,
    method: str = "GET",
    seconds_after_send: float | None = None,
) -> AutomatedReason | None:
    """Say why a tracker event looks automated, or None when a person probably caused it.

    The first rule that applies wins, in the order of KNOWN_REASONS.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown tracker event kind {kind!r}; expected open, click or page")
    if method.strip().upper() == "HEAD":
        return HEAD_REQUEST
    traits = user_agent_traits(user_agent or "")
    if kind == "open":
        if ip is not None and _is_apple_address(ip):
            return APPLE_MAIL_PRIVACY
        if traits.mail_proxy is not None:
            return traits.mail_proxy
    if traits.fetcher is not None:
        return traits.fetcher
    if kind == "click" and traits.empty:
        return LINK_SCANNER
    if seconds_after_send is not None:
        if kind == "click" and seconds_after_send < MIN_SECONDS_TO_CLICK:
            return TOO_FAST
        if kind == "open" and seconds_after_send < MIN_SECONDS_TO_OPEN:
            return TOO_FAST
    if traits.crawler and not (kind == "open" and traits.mail_client):
        return CRAWLER
    return None
