"""What a refusal means: SMTP replies and DSN status codes sorted into bounce types.

    result = classify_smtp_reply(550, "5.1.1 <ann@example.com>: User unknown")
    result.outcome, result.bounce_type            # ("bounced", "hard")
    classify_dsn_status("5.2.2", "smtp; 552 5.2.2 Mailbox full")   # ("mailbox_full", False)

Bounce types (the `bounce_type` of a DeliveryResult and of a mailbox report):

- `hard`: the address is permanently dead (no such user, no such domain, disabled
  mailbox). The only type that suppresses the address (`SUPPRESSING_TYPES`; complaints
  suppress too, but they are handled by the complaint path, not here).
- `soft`: a temporary failure with no more specific reason; retried.
- `mailbox_full`: X.2.2 or a quota text, whatever the code: deferred at SMTP time (some
  providers answer 552/550 for a full mailbox that empties tomorrow); the pipeline fails
  it when the message reaches its maximum age. Never suppresses.
- `policy`: the receiver refuses *us*, not the address: spam, block lists (Spamhaus),
  reputation, DMARC/SPF/DKIM, X.7.x. Bounced when permanent, never suppresses.
- `throttled`: rate limits and greylisting (421/451 4.7.x "try again later", Gmail 4.7.28,
  Yahoo TSS04, Outlook S3150, mail.ru "ratelimit"); always deferred, even under a 5xx code.
- `dns`: no MX / host not found (X.4.4, X.1.2 is `hard`); soft, never suppresses.
- `network`: connection, routing and protocol trouble (X.4.x, X.3.x, X.5.x); soft.
- `content`: the message itself is refused: size (X.3.4, X.2.3), virus, X.6.x. Failed.
- `auth`: our own credentials or sender identity (530/535, X.7.8, X.1.7/X.1.8). Failed.

How a reply is sorted (RFC 3463 class.subject.detail; the first matching row wins; texts
are checked first because providers' codes lie, e.g. Yandex's "550 5.7.1 No such user!"):

    | reply                                      | outcome  | bounce_type  |
    |--------------------------------------------|----------|--------------|
    | 2xx                                        | sent     | None         |
    | X.2.2 or quota text ("over quota", "full") | deferred | mailbox_full |
    | rate-limit text (TSS04, 4.7.28, S3150, …), | deferred | throttled    |
    |   any code, unless a user-unknown text     |          |              |
    | 4xx, 4.7.x with a block/spam text          | deferred | policy       |
    | 4xx, other 4.7.x                           | deferred | throttled    |
    | 4xx, 4.4.4/4.4.3 or DNS text               | deferred | dns          |
    | 4xx, 4.4.x/4.3.x, 421, connection text     | deferred | network      |
    | 4xx otherwise                              | deferred | soft         |
    | 5xx, auth text, 530/534/535, 5.7.8, 5.1.7/8 | failed   | auth         |
    | 5xx, size/virus text, X.6.x, 5.3.4, 5.2.3  | failed   | content      |
    | 5xx, user-unknown text                     | bounced  | hard         |
    | 5xx, spam/block/DMARC/reputation text      | bounced  | policy       |
    | 5xx, "mailbox unavailable"-like text       | bounced  | hard         |
    | 5.1.x, 5.2.x (not 5.2.2/5.2.3)             | bounced  | hard         |
    | 5.4.4 or DNS text                          | bounced  | dns          |
    | 5.4.x                                      | bounced  | network      |
    | 5.7.x                                      | bounced  | policy       |
    | 5.3.x, 5.5.x, 500-504                      | failed   | network      |
    | 550/551/553/521/556 without a better clue  | bounced  | hard         |
    | 554 (and other 5xx) without a better clue  | bounced  | policy       |
    | anything else (no code, 1xx, 3xx)          | failed   | network      |
"""

from __future__ import annotations

import re

from senders.channel import DeliveryResult, Outcome, one_line

BOUNCE_TYPES: tuple[str, ...] = (
    "hard",
    "soft",
    "mailbox_full",
    "policy",
    "throttled",
    "dns",
    "network",
    "content",
    "auth",
)
SUPPRESSING_TYPES: frozenset[str] = frozenset({"hard"})

_ENHANCED = re.compile(r"^\s*(?:\d{3}[ -])?\(?\#?([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_CODE = re.compile(r"^\s*(?:[\w-]+\s*;\s*)?([2-5]\d\d)\b")


def _patterns(*texts: str) -> re.Pattern[str]:
    return re.compile("|".join(texts), re.IGNORECASE)


_MAILBOX_FULL = _patterns(
    r"over ?quota",
    r"quota (?:exceeded|full)",
    r"exceed(?:s|ed)? (?:the |their |his |her )?(?:storage|quota)",
    r"mailbox (?:is )?full",
    r"mailbox full",
    r"full mailbox",
    r"insufficient (?:system )?storage",
    r"out of storage",
    r"user has exhausted allowed storage",
    r"mailbox size limit",
)
_THROTTLED = _patterns(
    r"\bTSS0\d",
    r"4\.7\.28",
    r"\bS3150\b",
    r"rate ?limit",
    r"rate of",
    r"too many (?:messages|connections|recipients|mails)",
    r"try (?:again )?later",
    r"come back later",
    r"greylist",
    r"temporarily deferred",
    r"\bthrottl",
    r"4\.7\.650",
)
_AUTH = _patterns(
    r"authentication (?:required|failed|credentials)",
    r"auth(?:entication)? .*(?:failed|invalid)",
    r"invalid credentials",
    r"username and password not accepted",
    r"must issue a starttls",
    r"sender address rejected: not owned",
    r"not authorized to send",
)
_CONTENT = _patterns(
    r"message (?:size|length) exceeds",
    r"size exceeds",
    r"too (?:large|big)",
    r"message is too long",
    r"exceeds (?:the )?(?:maximum|size|fixed)",
    r"\bvirus",
    r"malware",
    r"infected",
    r"attachment (?:type )?(?:not allowed|blocked|rejected)",
)
# Strong evidence that the address is dead: checked before the policy words.
_HARD = _patterns(
    r"user unknown",
    r"unknown user",
    r"no such (?:user|recipient|mailbox|address|account)",
    r"does not exist",
    r"doesn'?t exist",
    r"doesn'?t have an? [\w.-]+ account",
    r"invalid (?:mailbox|recipient|address)",
    r"(?:user|recipient|mailbox|address) not found",
    r"unknown (?:recipient|mailbox|address)",
    r"unrouteable address",
    r"account (?:has been |is )?(?:disabled|deactivated|closed|suspended|inactive)",
    r"mailbox (?:has been |is )?(?:disabled|deactivated|closed)",
    r"address (?:is )?no longer (?:valid|active|in use)",
    r"recipnotfound",
    r"AS\(201806281\)",
    r"not a valid (?:mailbox|recipient|address)",
    r"mailbox unavailable.*(?:not exist|invalid)",
)
_POLICY = _patterns(
    r"spam",
    r"spamhaus",
    r"black ?list",
    r"block ?list",
    r"\bblocked\b",
    r"\bRBL\b",
    r"reputation",
    r"dmarc",
    r"\bSPF\b",
    r"\bDKIM\b",
    r"unauthenticated",
    r"unsolicited",
    r"poor reputation",
    r"policy",
    r"rejected for policy",
    r"access denied",
    r"not accepted from this ip",
    r"banned",
    r"prohibit",
    r"abuse",
)
# Weaker evidence for a dead address, used only when no policy word is present.
_HARD_WEAK = _patterns(
    r"mailbox unavailable",
    r"mailbox not available",
    r"recipient (?:address )?rejected",
    r"invalid mailbox",
    r"user not local",
    r"not our customer",
)
_DNS = _patterns(
    r"host not found",
    r"host or domain name not found",
    r"no mx",
    r"mx (?:record|lookup)",
    r"name service error",
    r"domain (?:not found|does not accept mail)",
    r"nxdomain",
    r"\bdns\b",
)
_NETWORK = _patterns(
    r"connection (?:refused|timed out|reset|lost|closed)",
    r"timed out",
    r"network is unreachable",
    r"no route to host",
    r"closing (?:transmission )?channel",
    r"service not available",
    r"lost connection",
)


def parse_enhanced_status(text: str) -> str | None:
    """The RFC 3463 status ("5.1.1") at the start of a reply text, with or without its code."""
    match = _ENHANCED.match(text)
    return ".".join(match.groups()) if match else None


def classify_smtp_reply(code: int, text: str, *, enhanced: str | None = None) -> DeliveryResult:
    """One SMTP reply as a classified DeliveryResult (see the table in the module docstring).

    `text` is the reply's text (its first line may start with the code and the enhanced
    status, as "550-5.1.1 …" or "5.1.1 …"); `enhanced` overrides the status parsed from it.
    """
    status = enhanced or parse_enhanced_status(text)
    outcome, bounce_type = _sort(code, status or "", text)
    return DeliveryResult(
        outcome=outcome,
        code=code,
        status=status,
        diagnostic=one_line(text),
        bounce_type=bounce_type,
    )


def classify_dsn_status(status: str, diagnostic: str) -> tuple[str, bool]:
    """A DSN's Status and Diagnostic-Code as (bounce_type, permanent).

    `permanent` is True when the recipient's server gave up for good (a bounced or failed
    outcome); mailbox_full and throttled are never permanent, whatever the class.
    The diagnostic's type prefix ("smtp; 550 …", "X-Postfix; …") is ignored.
    """
    text = diagnostic.split(";", 1)[1] if re.match(r"^\s*[\w-]+\s*;", diagnostic) else diagnostic
    code_match = _REPLY_CODE.match(text)
    status = status.strip() or (parse_enhanced_status(text) or "")
    if code_match:
        code = int(code_match.group(1))
        text = text[code_match.end() :].lstrip(" -")
    elif status[:1] in ("2", "4", "5"):
        code = {"2": 250, "4": 450, "5": 550}[status[0]]
    else:
        code = 550
    if status[:1] == "4" and code >= 500:
        code = 450
    if status[:1] == "5" and 400 <= code < 500:
        code = 550
    result = classify_smtp_reply(code, text, enhanced=status or None)
    if result.outcome == "sent":
        return "soft", False
    return result.bounce_type or "soft", result.permanent


def _sort(code: int, status: str, text: str) -> tuple[Outcome, str | None]:
    subject_detail = status[2:] if len(status) > 2 else ""
    subject = subject_detail.split(".", 1)[0]
    if 200 <= code < 300:
        return "sent", None
    if subject_detail == "2.2" or _MAILBOX_FULL.search(text):
        return "deferred", "mailbox_full"
    if _THROTTLED.search(text) and not _HARD.search(text):
        return "deferred", "throttled"
    if 400 <= code < 500:
        return "deferred", _temporary_type(code, subject, subject_detail, text)
    if 500 <= code < 600:
        return _permanent(code, subject, subject_detail, text)
    return "failed", "network"


def _temporary_type(code: int, subject: str, subject_detail: str, text: str) -> str:
    if subject == "7":
        return "policy" if _POLICY.search(text) and not _THROTTLED.search(text) else "throttled"
    if subject_detail in ("4.4", "4.3") or _DNS.search(text):
        return "dns"
    if subject in ("4", "3") or code == 421 or _NETWORK.search(text):
        return "network"
    return "soft"


def _permanent(code: int, subject: str, subject_detail: str, text: str) -> tuple[Outcome, str]:
    if (
        _AUTH.search(text)
        or code in (530, 534, 535, 538)
        or subject_detail in ("7.8", "7.9", "7.11", "1.7", "1.8")
    ):
        return "failed", "auth"
    if _CONTENT.search(text) or subject == "6" or subject_detail in ("3.4", "2.3"):
        return "failed", "content"
    if _HARD.search(text):
        return "bounced", "hard"
    if _POLICY.search(text):
        return "bounced", "policy"
    if _HARD_WEAK.search(text) or subject in ("1", "2"):
        return "bounced", "hard"
    if subject_detail == "4.4" or (subject == "4" and _DNS.search(text)):
        return "bounced", "dns"
    if subject == "4":
        return "bounced", "network"
    if subject == "7":
        return "bounced", "policy"
    if subject in ("3", "5") or code in (500, 501, 502, 503, 504):
        return "failed", "network"
    if code in (550, 551, 553, 521, 556):
        return "bounced", "hard"
    return "bounced", "policy"
