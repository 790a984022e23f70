"""The complete e-mail for one recipient: RFC 5322 headers, MIME parts, tracking inserted.

    parts = EmailParts(subject="Спасибо за заказ", html=html, text=None,
                       from_address="news@shop.example", from_name="Shop",
                       to_address="ivan@пример.рф", to_name="Иван")
    tracking = Tracking(open_url=pixel_url, click_url=lambda n, url: tracked(n, url),
                        unsubscribe_url=one_click_url, unsubscribe_mailto="mailto:u@shop.example")
    message = compose_email(parts, message_id="m-1@shop.example",
                            feedback_id="c7:run-3:shop:herald", tracking=tracking)
    # bytes with CRLF line ends, ready for DKIM signing and SMTP

The message is assembled as bytes directly (the stdlib `email` package takes about ten
times as long, and the sender builds one message per recipient): headers folded at spaces
and RFC 2047-encoded (UTF-8, base64 words) when not ASCII, `multipart/alternative` with
text/plain first and text/html second, and a random boundary beginning with "=_", which
neither quoted-printable nor base64 text can contain. Each body gets the transfer encoding
the stdlib's own heuristic would pick: 7bit when it is ASCII with short lines (nothing to
encode, nothing to spend), quoted-printable when it is mostly ASCII, base64 when it is mostly
not (Russian text triples in quoted-printable); lines are at most 76 characters in both.
Every header value, address and URL is refused with EmailError if it holds a line break
(header injection), and every line is at most 998 characters.

Addresses keep their local part as given; the domain is written in ASCII (IDNA, e.g.
`иван@пример.рф` -> `иван@xn--e1afmkfd.xn--p1ai`). A non-ASCII local part cannot be written
in ASCII at all: it needs a server that offers SMTPUTF8 (RFC 6531), so it is an EmailError
unless the caller passes `allow_smtputf8=True` (and then sends with SMTPUTF8; see
`needs_smtputf8`). A common ASCII address is checked with one regular expression; anything
else goes through email-validator (about 40-200 µs, where the fast check takes 1 µs).

Tracking, when given: every http(s) link in an `<a>` tag goes through `click_url` (see
`rewrite_links`), the open pixel goes just before `</body>`, a "view in browser" link goes
first in both parts, `List-Unsubscribe` lists the mailto and the web address, and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058) is added only for an https one.
When no text part is given it is made from the HTML (after link tracking, so its links are
tracked too) by inscriptis: about 2.5 ms for 9 KB, ten times the rest of composing, so give
a text part when sending at volume. A text part that is given is used as it is: its links
are not tracked.
"""

from __future__ import annotations

import binascii
import html as html_entities
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from email_validator import EmailNotValidError, validate_email
from inscriptis import get_text
from inscriptis.model.config import ParserConfig

from herald.errors import HeraldError

MAX_LINE = 998  # RFC 5322 2.1.1: a line is at most 998 characters, CRLF excluded
FOLD_AT = 78  # ... and should be at most 78
ONE_CLICK = "List-Unsubscribe=One-Click"
WEB_VERSION_LABEL = "View this email in your browser"

#: Headers compose_email writes itself; EmailParts.headers may not set them.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "feedback-id",
        "dkim-signature",
    }
)

ClickUrl = Callable[[int, str], str]


class EmailError(HeraldError):
    """A message that cannot be composed: a bad address, a header with a line break, a
    missing body."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EmailParts:
    """What the renderer made for one recipient."""

    subject: str
    html: str | None
    text: str | None
    from_address: str
    from_name: str = ""
    reply_to: str | None = None
    to_address: str
    to_name: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. X-Herald-Key


@dataclass(frozen=True, kw_only=True, slots=True)
class Tracking:
    """What to insert into the message; a field left None is not inserted."""

    open_url: str | None = None  # the pixel, just before </body>
    click_url: ClickUrl | None = None  # (link position 1.., original URL) -> tracked URL
    unsubscribe_url: str | None = None  # the tracker's one-click URL (/u/{token})
    unsubscribe_mailto: str | None = None  # mailto:... for List-Unsubscribe
    web_version_url: str | None = None  # "view in browser", first in both parts
    web_version_label: str = WEB_VERSION_LABEL


def compose_email(
    parts: EmailParts,
    *,
    message_id: str,
    feedback_id: str | None = None,
    tracking: Tracking | None = None,
    date: datetime | None = None,
    allow_smtputf8: bool = False,
) -> bytes:
    """The whole message (headers and body, CRLF line ends) for one recipient."""
    if parts.html is None and parts.text is None:
        raise EmailError("the message has neither an HTML nor a text part")
    tracking = tracking or Tracking()
    headers = [
        ("From", _mailbox(parts.from_name, parts.from_address, "From", allow_smtputf8)),
        ("To", _mailbox(parts.to_name, parts.to_address, "To", allow_smtputf8)),
    ]
    if parts.reply_to is not None:
        headers.append(("Reply-To", _address(parts.reply_to, "Reply-To", allow_smtputf8)))
    headers += [
        ("Subject", _unstructured(parts.subject, "Subject")),
        ("Date", format_datetime(_aware(date or datetime.now(UTC)))),
        ("Message-ID", _message_id(message_id)),
        ("MIME-Version", "1.0"),
    ]
    headers += _unsubscribe_headers(tracking)
    if feedback_id is not None:
        headers.append(("Feedback-ID", _ascii_value(feedback_id, "Feedback-ID")))
    headers += _extra_headers(parts.headers)

    html = parts.html
    if html is not None and tracking.click_url is not None:
        html = rewrite_links(html, tracking.click_url)
    text = parts.text if parts.text is not None else html_to_text(html or "")
    if tracking.web_version_url is not None:
        web_url = _url(tracking.web_version_url, "web version URL", ("https://", "http://"))
        text = _text_with_web_version(text, web_url, tracking.web_version_label)
        if html is not None:
            html = _html_with_web_version(html, web_url, tracking.web_version_label)
    if html is not None and tracking.open_url is not None:
        html = _html_with_pixel(html, _url(tracking.open_url, "open URL", ("https://", "http://")))

    if html is None:
        encoding, body = _encoded_body(text)
        headers += [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", encoding.decode("ascii")),
        ]
    else:
        boundary = "=_herald_" + secrets.token_hex(12)
        headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
        delimiter = b"\r\n--" + boundary.encode("ascii")
        body = b"".join(
            (
                delimiter[2:],
                b"\r\n",
                _part(b"text/plain", text),
                delimiter,
                b"\r\n",
                _part(b"text/html", html),
                delimiter,
                b"--\r\n",
            )
        )
    head = "\r\n".join(_fold(name, value) for name, value in headers)
    return head.encode("utf-8") + b"\r\n\r\n" + body


def rewrite_links(html: str, click_url: ClickUrl) -> str:
    """Every `href` of an `<a>` tag that is an http or https URL, through `click_url`.

    Links are numbered 1, 2, ... in document order among those rewritten; `click_url` gets
    the number and the URL with HTML entities decoded (`&amp;` -> `&`), and its answer is
    written back escaped, in double quotes. Left alone: mailto:, tel:, #anchors and any
    other scheme, hrefs that are empty or hold a template left unrendered, and links marked
    `data-herald-notrack` (the mark itself is removed). `rel` is not looked at.
    """
    lowered = _lower(html)
    pieces: list[str] = []
    done = 0
    position = 0
    start = lowered.find("<a")
    while start != -1:
        tag = _A_TAG.match(html, start)
        if tag is not None:
            rewritten = _rewrite_tag(tag.group(), position + 1, click_url)
            if rewritten is not None:
                new_tag, tracked = rewritten
                position += tracked
                pieces += (html[done:start], new_tag)
                done = tag.end()
            start = lowered.find("<a", tag.end())
        else:
            start = lowered.find("<a", start + 2)
    if not pieces:
        return html
    pieces.append(html[done:])
    return "".join(pieces)


def html_to_text(html: str) -> str:
    """A plain-text rendering of the HTML, links shown as `[text](url)` (inscriptis; about
    2.5 ms for 9 KB of HTML)."""
    return get_text(html, _TEXT_CONFIG).strip() + "\n"


def needs_smtputf8(address: str) -> bool:
    """Whether sending to or from `address` needs SMTPUTF8 (a non-ASCII local part)."""
    return not address.rpartition("@")[0].isascii()


# Headers


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_ADDRESS = re.compile(
    rf"{_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?"
)
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")
_HEADER_NAME = re.compile(r"[!-9;-~]+")
_MESSAGE_ID = re.compile(r"[!-;=?-~]+@[!-;=?-~]+")  # printable ASCII without < > @
_BREAKS = ("\r", "\n", "\0")
_WORD_BYTES = 45  # 60 base64 characters: "=?utf-8?b?" + 60 + "?=" = 72


def _check_line(value: str, what: str) -> None:
    for character in _BREAKS:
        if character in value:
            raise EmailError(f"{what} contains a line break or NUL: refused (header injection)")


def _address(address: str, role: str, allow_smtputf8: bool) -> str:
    """The address as written in a header: local part as given, domain in ASCII."""
    _check_line(address, f"{role} address {address!r}")
    if len(address) <= 254 and _PLAIN_ADDRESS.fullmatch(address) and address.index("@") <= 64:
        return address
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as error:
        raise EmailError(f"{role} address {address!r} is not valid: {error}") from None
    local = address.rpartition("@")[0]
    if not local.isascii() and not allow_smtputf8:
        raise EmailError(
            f"{role} address {address!r} has a non-ASCII local part: it needs SMTPUTF8 "
            "(pass allow_smtputf8=True and send through a server that offers it)"
        )
    return f"{local}@{checked.ascii_domain}"


def _mailbox(name: str, address: str, role: str, allow_smtputf8: bool) -> str:
    written = _address(address, role, allow_smtputf8)
    if not name:
        return written
    _check_line(name, f"{role} name {name!r}")
    if not name.isascii():
        return f"{_encoded_words(name)} <{written}>"
    if _ATOMS.fullmatch(name) and name.strip() == name:
        return f"{name} <{written}>"
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{written}>'


def _unstructured(value: str, name: str) -> str:
    _check_line(value, f"{name} {value!r}")
    return value if value.isascii() and "=?" not in value else _encoded_words(value)


def _encoded_words(value: str) -> str:
    """RFC 2047 base64 words of UTF-8, never splitting a character, separated by folds."""
    data = value.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        chunk = binascii.b2a_base64(data[start:end], newline=False).decode("ascii")
        words.append(f"=?utf-8?b?{chunk}?=")
        start = end
    return " ".join(words)


def _ascii_value(value: str, name: str) -> str:
    _check_line(value, f"{name} {value!r}")
    if not value.isascii():
        raise EmailError(f"{name} {value!r} must be ASCII")
    return value


def _message_id(message_id: str) -> str:
    _check_line(message_id, f"Message-ID {message_id!r}")
    bare = message_id.removeprefix("<").removesuffix(">")
    if not _MESSAGE_ID.fullmatch(bare):
        raise EmailError(f"Message-ID {message_id!r} is not of the form left@right")
    return f"<{bare}>"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _url(url: str, what: str, schemes: tuple[str, ...]) -> str:
    _check_line(url, f"{what} {url!r}")
    if not url.lower().startswith(schemes) or not url.isascii() or any(c in url for c in " <>"):
        raise EmailError(f"{what} {url!r} is not an ASCII {' or '.join(schemes)}... URL")
    return url


def _unsubscribe_headers(tracking: Tracking) -> list[tuple[str, str]]:
    entries = []
    if tracking.unsubscribe_mailto is not None:
        entries.append(_url(tracking.unsubscribe_mailto, "unsubscribe mailto", ("mailto:",)))
    one_click = False
    if tracking.unsubscribe_url is not None:
        url = _url(tracking.unsubscribe_url, "unsubscribe URL", ("https://", "http://"))
        entries.append(url)
        one_click = url.lower().startswith("https://")
    if not entries:
        return []
    headers = [("List-Unsubscribe", ", ".join(f"<{entry}>" for entry in entries))]
    if one_click:
        headers.append(("List-Unsubscribe-Post", ONE_CLICK))
    return headers


def _extra_headers(extra: Mapping[str, str]) -> list[tuple[str, str]]:
    headers = []
    for name, value in extra.items():
        if not _HEADER_NAME.fullmatch(name):
            raise EmailError(f"header name {name!r} is not printable ASCII without ':'")
        if name.lower() in RESERVED_HEADERS:
            raise EmailError(f"header {name} is written by the sender and cannot be set")
        headers.append((name, _unstructured(value, name)))
    return headers


def _fold(name: str, value: str) -> str:
    """`Name: value`, folded at spaces to lines of about 78 characters where it can be."""
    line = f"{name}: {value}"
    if len(line) <= FOLD_AT:
        return line
    words = line.split(" ")
    lines = []
    current = f"{words[0]} {words[1]}"  # never fold right after "Name:"
    for word in words[2:]:
        if len(current) + 1 + len(word) > FOLD_AT and word:
            lines.append(current)
            current = " " + word
        else:
            current += " " + word
    lines.append(current)
    if any(len(folded) > MAX_LINE for folded in lines):
        raise EmailError(f"header {name} has a word longer than {MAX_LINE} characters")
    return "\r\n".join(lines)


# Bodies


_A_TAG = re.compile(r"""<a\s(?:[^>"']++|"[^"]*+"|'[^']*+')*+>""", re.IGNORECASE)
_HREF = re.compile(r"""(\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_NOTRACK = re.compile(
    r"""\sdata-herald-notrack(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?(?=[\s/>])""",
    re.IGNORECASE,
)
_NEEDS_ESCAPE = frozenset("&<>\"'")
_TEXT_CONFIG = ParserConfig(display_links=True)
_PIXEL = (
    '<img src="{}" width="1" height="1" alt="" '
    'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">'
)
_WEB_VERSION = (
    '<div style="font-size:12px;line-height:16px;text-align:center;padding:8px 0">'
    '<a href="{}" style="color:#666666">{}</a></div>'
)


def _lower(html: str) -> str:
    """The HTML in lowercase with every character where it was (str.lower turns "İ" into
    two characters; it is the only one)."""
    lowered = html.lower()
    return lowered if len(lowered) == len(html) else html.replace("\u0130", "I").lower()


def _rewrite_tag(tag: str, position: int, click_url: ClickUrl) -> tuple[str, int] | None:
    """The tag with its href tracked (and 1), with the notrack mark removed (and 0), or None
    when the tag stays as it is."""
    if "data-herald-notrack" in tag or "DATA-HERALD-NOTRACK" in tag.upper():
        return _NOTRACK.sub("", tag), 0
    href = _HREF.search(tag)
    if href is None:
        return None
    raw = next(value for value in href.group(2, 3, 4) if value is not None)
    if "&" not in raw:
        url = raw.strip()
    elif raw.count("&") == raw.count("&amp;"):
        url = raw.replace("&amp;", "&").strip()
    else:
        url = html_entities.unescape(raw).strip()
    if not url[:8].lower().startswith(("https://", "http://")) or "{{" in url or "{%" in url:
        return None
    tracked = click_url(position, url)
    if not _NEEDS_ESCAPE.isdisjoint(tracked):
        tracked = html_entities.escape(tracked, quote=True)
    new_tag = f'{tag[: href.start()]}{href.group(1)}"{tracked}"{tag[href.end() :]}'
    return new_tag, 1


def _html_with_pixel(html: str, open_url: str) -> str:
    pixel = _PIXEL.format(html_entities.escape(open_url, quote=True))
    end = _lower(html).rfind("</body")
    if end == -1:
        return html + pixel
    return html[:end] + pixel + html[end:]


def _html_with_web_version(html: str, url: str, label: str) -> str:
    if url in html or html_entities.escape(url) in html:
        return html  # the template placed the link itself
    link = _WEB_VERSION.format(
        html_entities.escape(url, quote=True), html_entities.escape(label, quote=False)
    )
    lowered = _lower(html)
    body = lowered.find("<body")
    after = lowered.find(">", body) + 1 if body != -1 else 0
    return html[:after] + link + html[after:]


def _text_with_web_version(text: str, url: str, label: str) -> str:
    if url in text:
        return text
    return f"{label}: {url}\n\n{text}"


def _part(content_type: bytes, text: str) -> bytes:
    encoding, body = _encoded_body(text)
    return b"".join(
        (
            b"Content-Type: ",
            content_type,
            b"; charset=utf-8\r\nContent-Transfer-Encoding: ",
            encoding,
            b"\r\n\r\n",
            body,
        )
    )


def _encoded_body(text: str) -> tuple[bytes, bytes]:
    """(Content-Transfer-Encoding, body): the stdlib's choice, made cheaply. 7bit when the
    text is ASCII with lines of at most 998 characters (nothing to encode); otherwise
    quoted-printable for mostly-ASCII text and base64 for mostly non-ASCII text (say
    Russian), whichever comes out shorter. Line ends are CRLF and the body ends with one."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    if text.isascii() and "\0" not in text and max(map(len, text.split("\n"))) <= MAX_LINE:
        return b"7bit", text.replace("\n", "\r\n").encode("ascii")
    data = text.replace("\n", "\r\n").encode("utf-8")
    non_ascii_bytes = 2 * (len(data) - len(text) - text.count("\n"))
    quoted_printable_size = len(data) + 2 * non_ascii_bytes + 2 * data.count(b"=")
    if quoted_printable_size <= len(data) * 4 // 3 * 78 // 76:
        return b"quoted-printable", binascii.b2a_qp(data, istext=True)
    encoded = binascii.b2a_base64(data, newline=False)
    lines = [encoded[start : start + 76] for start in range(0, len(encoded), 76)]
    return b"base64", b"\r\n".join(lines) + b"\r\n"
