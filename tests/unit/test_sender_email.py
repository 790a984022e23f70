"""Composing one recipient's e-mail: what a mail client reads back, and what is refused.

Every message is parsed back with the stdlib `email` package (policy.default), which is
how we know headers, encodings and MIME structure are right without trusting our own
encoder. Tracking inserts a pixel, tracked links and one-click unsubscribe headers; a
signed message keeps them under the DKIM signature.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest

from senders.dkim import generate_dkim_key, load_signers
from senders.email import (
    EmailError,
    EmailParts,
    Tracking,
    compose_email,
    html_to_text,
    needs_smtputf8,
    rewrite_links,
)

HTML = """<!doctype html>
<html><head><title>Sale</title></head>
<body style="margin:0">
  <h1>Autumn sale</h1>
  <p><a href="https://shop.example/sale?utm_source=news&amp;utm_medium=email">See the sale</a></p>
  <p><a class="button" href='http://shop.example/boots'>Boots</a>
     <A HREF=https://shop.example/coats>Coats</A></p>
  <p><a href="mailto:help@shop.example">Write to us</a> or <a href="tel:+100">call</a>.</p>
  <p><a href="#top">Top</a> <a data-herald-notrack href="https://shop.example/terms">Terms</a></p>
</body>
</html>
"""
LINKS = [
    "https://shop.example/sale?utm_source=news&utm_medium=email",
    "http://shop.example/boots",
    "https://shop.example/coats",
]
DATE = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def parts(**changes: object) -> EmailParts:
    values: dict[str, object] = {
        "subject": "Autumn sale",
        "html": HTML,
        "text": "Autumn sale: https://shop.example/sale\n",
        "from_address": "news@shop.example",
        "from_name": "Shop",
        "to_address": "ivan@mail.example",
        "to_name": "Ivan Petrov",
    }
    values.update(changes)
    return EmailParts(**values)  # type: ignore[arg-type]


def tracked(position: int, url: str) -> str:
    return f"https://t.example/c/{position}?to={url}"


TRACKING = Tracking(
    open_url="https://t.example/o/tok",
    click_url=tracked,
    unsubscribe_url="https://t.example/u/tok",
    unsubscribe_mailto="mailto:unsubscribe+tok@shop.example",
)


def compose(email_parts: EmailParts | None = None, **options: object) -> bytes:
    settings: dict[str, object] = {
        "message_id": "m-1@shop.example",
        "feedback_id": "c1:run-1:shop:herald",
        "tracking": TRACKING,
        "date": DATE,
    }
    settings.update(options)
    return compose_email(email_parts or parts(), **settings)  # type: ignore[arg-type]


def parsed(message: bytes) -> EmailMessage:
    result = email.message_from_bytes(message, policy=email.policy.default)
    assert isinstance(result, EmailMessage)
    return result


def content(part: EmailMessage | None) -> str:
    """A part's decoded text, with the line ends a mail client shows (\\n)."""
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


def html_part(message: bytes) -> str:
    return content(parsed(message).get_body(("html",)))


def text_part(message: bytes) -> str:
    return content(parsed(message).get_body(("plain",)))


# Headers


def test_headers_read_back_as_given() -> None:
    message = parsed(compose())

    assert {name: str(message[name]) for name in message} == {
        "From": "Shop <news@shop.example>",
        "To": "Ivan Petrov <ivan@mail.example>",
        "Subject": "Autumn sale",
        "Date": "Thu, 26 Nov 2026 09:30:00 +0000",
        "Message-ID": "<m-1@shop.example>",
        "MIME-Version": "1.0",
        "List-Unsubscribe": "<mailto:unsubscribe+tok@shop.example>, <https://t.example/u/tok>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Feedback-ID": "c1:run-1:shop:herald",
        "Content-Type": message["Content-Type"],
    }


def test_message_is_multipart_alternative_text_then_html() -> None:
    message = parsed(compose())

    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_parts_are_utf8() -> None:
    message = parsed(compose())

    assert [part.get_content_charset() for part in message.iter_parts()] == ["utf-8", "utf-8"]


def test_text_part_reads_back_as_given() -> None:
    assert text_part(compose()) == "Autumn sale: https://shop.example/sale\n"


def test_reply_to_and_extra_headers_are_written() -> None:
    message = parsed(
        compose(parts(reply_to="care@shop.example", headers={"X-Herald-Key": "run-1:p1:email:0"}))
    )

    assert (message["Reply-To"], message["X-Herald-Key"]) == (
        "care@shop.example",
        "run-1:p1:email:0",
    )


def test_message_id_given_in_angle_brackets_is_not_doubled() -> None:
    assert parsed(compose(message_id="<m-1@shop.example>"))["Message-ID"] == "<m-1@shop.example>"


def test_naive_date_is_taken_as_utc() -> None:
    message = parsed(compose(date=datetime(2026, 11, 26, 9, 30)))

    assert message["Date"] == "Thu, 26 Nov 2026 09:30:00 +0000"


def test_non_ascii_subject_and_names_round_trip() -> None:
    subject = "Скидки недели: до −50% на «всё» для вас, Иван! " * 3
    message = parsed(compose(parts(subject=subject, from_name="Магазин", to_name="Иван Петров")))

    assert (message["Subject"], message["From"].addresses[0].display_name) == (
        subject,
        "Магазин",
    )


def test_non_ascii_to_name_round_trips() -> None:
    message = parsed(compose(parts(to_name="Иван «Ваня» Петров")))

    assert message["To"].addresses[0].display_name == "Иван «Ваня» Петров"


def test_ascii_name_with_specials_is_quoted() -> None:
    message = parsed(compose(parts(from_name='Shop, Inc. "Best"')))

    assert message["From"].addresses[0].display_name == 'Shop, Inc. "Best"'


def test_ascii_subject_that_looks_encoded_reads_back_literally() -> None:
    subject = "Not =?utf-8?q?encoded?= at all"

    assert parsed(compose(parts(subject=subject)))["Subject"] == subject


def test_long_ascii_subject_is_folded_and_reads_back_whole() -> None:
    subject = "A very long subject line that goes on and on " * 6

    message = compose(parts(subject=subject))

    assert parsed(message)["Subject"] == subject


def test_idn_domain_is_written_in_punycode() -> None:
    message = compose(parts(to_address="ivan@пример.рф"))

    assert b"To: Ivan Petrov <ivan@xn--e1afmkfd.xn--p1ai>\r\n" in message


def test_non_ascii_local_part_needs_smtputf8() -> None:
    with pytest.raises(EmailError, match="non-ASCII local part: it needs SMTPUTF8"):
        compose(parts(to_address="иван@пример.рф"))


def test_non_ascii_local_part_is_written_as_utf8_when_allowed() -> None:
    message = compose(parts(to_address="иван@пример.рф"), allow_smtputf8=True)

    assert "<иван@xn--e1afmkfd.xn--p1ai>".encode() in message


def test_needs_smtputf8_looks_at_the_local_part_only() -> None:
    assert [needs_smtputf8(a) for a in ("иван@x.example", "ivan@пример.рф")] == [True, False]


def test_one_click_post_is_left_out_without_an_https_url() -> None:
    tracking = Tracking(unsubscribe_mailto="mailto:u@shop.example")

    message = parsed(compose(tracking=tracking))

    assert (message["List-Unsubscribe"], message["List-Unsubscribe-Post"]) == (
        "<mailto:u@shop.example>",
        None,
    )


def test_no_tracking_means_no_unsubscribe_headers() -> None:
    message = parsed(compose(tracking=None))

    assert message["List-Unsubscribe"] is None


def test_feedback_id_is_left_out_when_not_given() -> None:
    assert parsed(compose(feedback_id=None))["Feedback-ID"] is None


# Line ends and lengths


def test_every_line_ends_with_crlf() -> None:
    message = compose(parts(subject="Привет " * 40, html=HTML + "\n\r" + "é" * 3000))

    assert message.count(b"\n") == message.count(b"\r\n") and b"\r\r" not in message


@pytest.mark.parametrize(
    "html",
    [
        "<p>" + "x" * 5000 + "</p>",  # one long ASCII line
        "<p>" + "ж" * 5000 + "</p>",  # one long Cyrillic line
        "<p>" + "word é " * 2000 + "</p>",  # mostly ASCII, some UTF-8
    ],
    ids=["ascii", "cyrillic", "mixed"],
)
def test_no_line_is_longer_than_998_bytes(html: str) -> None:
    message = compose(parts(html=html, text=html))

    assert max(len(line) for line in message.split(b"\r\n")) <= 998


@pytest.mark.parametrize(
    "html",
    ["<p>" + "x" * 5000 + "</p>", "<p>" + "ж" * 5000 + "</p>", "<p>" + "word é " * 2000 + "</p>"],
    ids=["ascii", "cyrillic", "mixed"],
)
def test_long_bodies_read_back_unchanged(html: str) -> None:
    assert html_part(compose(parts(html=html), tracking=None)) == html + "\n"


def test_body_without_anything_to_encode_is_sent_as_7bit() -> None:
    message = parsed(compose(parts(html="<p>plain</p>"), tracking=None))

    assert [part["Content-Transfer-Encoding"] for part in message.iter_parts()] == [
        "7bit",
        "7bit",
    ]


def test_mostly_cyrillic_body_is_sent_as_base64() -> None:
    message = parsed(compose(parts(html="<p>" + "Привет, мир! " * 100 + "</p>"), tracking=None))

    assert message.get_body(("html",))["Content-Transfer-Encoding"] == "base64"


def test_mostly_ascii_body_with_some_utf8_is_sent_quoted_printable() -> None:
    message = parsed(compose(parts(html="<p>" + "Café au lait. " * 100 + "</p>"), tracking=None))

    assert message.get_body(("html",))["Content-Transfer-Encoding"] == "quoted-printable"


# Tracking


def test_pixel_is_inserted_once_just_before_body_end() -> None:
    html = html_part(compose())

    pixel = '<img src="https://t.example/o/tok" width="1" height="1" alt=""'
    assert html.count(pixel) == 1 and re.search(re.escape(pixel) + r"[^>]*></body>", html)


def test_pixel_is_appended_when_there_is_no_body_tag() -> None:
    html = html_part(compose(parts(html="<p>Hi</p>")))

    assert html.startswith('<p>Hi</p><img src="https://t.example/o/tok"')


def test_every_http_link_is_tracked_with_its_position_and_original_url() -> None:
    html = html_part(compose())

    hrefs = re.findall(r'href="(https://t\.example/c/[^"]*)"', html, re.IGNORECASE)
    assert hrefs == [
        f"https://t.example/c/{n}?to={url}".replace("&", "&amp;") for n, url in enumerate(LINKS, 1)
    ]


def test_mailto_tel_anchor_and_notrack_links_are_left_alone() -> None:
    html = html_part(compose())

    assert all(
        kept in html
        for kept in (
            '<a href="mailto:help@shop.example">',
            '<a href="tel:+100">',
            '<a href="#top">',
            '<a href="https://shop.example/terms">',
        )
    )


def test_rewrite_links_gives_the_callback_unescaped_urls() -> None:
    seen: list[tuple[int, str]] = []

    rewrite_links(HTML, lambda n, url: seen.append((n, url)) or url)

    assert seen == list(enumerate(LINKS, 1))


def test_rewrite_links_escapes_what_the_callback_returns() -> None:
    html = rewrite_links('<a href="https://a.example">a</a>', lambda n, url: 'https://t/?a=1&b="2"')

    assert html == '<a href="https://t/?a=1&amp;b=&quot;2&quot;">a</a>'


def test_rewrite_links_finds_links_after_characters_that_lowercase_to_two() -> None:
    html = rewrite_links(
        '<p>İstanbul <a href="https://a.example">a</a></p>', lambda n, u: "https://t"
    )

    assert html == '<p>İstanbul <a href="https://t">a</a></p>'


def test_pixel_goes_before_body_end_after_characters_that_lowercase_to_two() -> None:
    html = html_part(compose(parts(html="<body>İİİ</BODY>")))

    assert html.startswith("<body>İİİ<img ") and html.endswith("</BODY>\n")


def test_rewrite_links_keeps_other_attributes_and_text() -> None:
    html = rewrite_links(
        '<p><a class="b" href="https://a.example" title="x > y">A&amp;B</a></p>',
        lambda n, url: "https://t.example/c/1",
    )

    assert html == '<p><a class="b" href="https://t.example/c/1" title="x > y">A&amp;B</a></p>'


def test_web_version_link_comes_first_in_both_parts() -> None:
    tracking = Tracking(web_version_url="https://t.example/v/tok", web_version_label="Open online")

    message = compose(tracking=tracking)

    assert (
        "Open online</a>" in html_part(message).split("<h1>")[0],
        text_part(message).startswith("Open online: https://t.example/v/tok\n"),
    ) == (True, True)


def test_text_part_is_made_from_html_when_not_given() -> None:
    text = text_part(compose(parts(text=None), tracking=None))

    assert "Autumn sale" in text and "[Boots](http://shop.example/boots)" in text


def test_html_to_text_keeps_the_words_of_the_html() -> None:
    assert html_to_text("<p>Hello <b>Ivan</b></p><p>Bye</p>") == "Hello Ivan\n\nBye\n"


def test_text_only_message_is_a_single_text_part() -> None:
    message = parsed(compose(parts(html=None)))

    assert (message.get_content_type(), content(message)) == (
        "text/plain",
        "Autumn sale: https://shop.example/sale\n",
    )


# Refusals


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Sale\r\nBcc: victim@example.com"},
        {"from_name": "Shop\nBcc: victim@example.com"},
        {"to_name": "Ivan\r"},
        {"to_address": "ivan@mail.example\r\nBcc: victim@example.com"},
        {"reply_to": "care@shop.example\nBcc: x@example.com"},
        {"headers": {"X-Herald-Key": "k\r\nBcc: victim@example.com"}},
    ],
    ids=["subject", "from name", "to name", "to address", "reply-to", "extra header"],
)
def test_line_break_in_a_header_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(EmailError, match="header injection"):
        compose(parts(**changes))


@pytest.mark.parametrize(
    "options",
    [
        {"message_id": "m-1@shop.example\r\nBcc: x@example.com"},
        {"feedback_id": "c1\nBcc: x@example.com"},
        {"tracking": Tracking(unsubscribe_url="https://t.example/u/tok\r\nBcc: x@example.com")},
        {"tracking": Tracking(open_url="https://t.example/o/\ntok")},
    ],
    ids=["message-id", "feedback-id", "unsubscribe url", "open url"],
)
def test_line_break_in_a_sender_value_is_refused(options: dict[str, object]) -> None:
    with pytest.raises(EmailError, match="header injection"):
        compose(**options)


@pytest.mark.parametrize("address", ["ivan", "ivan@", "@mail.example", "iv an@mail.example"])
def test_invalid_recipient_address_is_refused_by_name(address: str) -> None:
    with pytest.raises(EmailError, match=f"To address {re.escape(repr(address))} is not valid"):
        compose(parts(to_address=address))


def test_header_the_sender_writes_cannot_be_set_as_an_extra_header() -> None:
    with pytest.raises(EmailError, match="header List-Unsubscribe is written by the sender"):
        compose(parts(headers={"List-Unsubscribe": "<https://evil.example>"}))


def test_header_name_with_a_colon_is_refused() -> None:
    with pytest.raises(EmailError, match="header name 'X-A: b' is not printable ASCII"):
        compose(parts(headers={"X-A: b": "c"}))


def test_header_word_longer_than_998_characters_is_refused() -> None:
    with pytest.raises(EmailError, match="header X-Long has a word longer than 998"):
        compose(parts(headers={"X-Long": "x" * 1000}))


def test_unsubscribe_url_must_be_a_web_address() -> None:
    with pytest.raises(EmailError, match="unsubscribe URL 'javascript:alert"):
        compose(tracking=Tracking(unsubscribe_url="javascript:alert(1)"))


def test_message_without_any_body_is_refused() -> None:
    with pytest.raises(EmailError, match="neither an HTML nor a text part"):
        compose(parts(html=None, text=None))


# Signed


def test_composed_message_signed_with_dkim_verifies(tmp_path: Path) -> None:
    info = generate_dkim_key(tmp_path, "shop.example", "s1")
    signed = load_signers(tmp_path)["shop.example"].sign(compose())

    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: info.dns_value.encode())


def test_dkim_signature_covers_the_unsubscribe_headers(tmp_path: Path) -> None:
    generate_dkim_key(tmp_path, "shop.example", "s1", algorithm="ed25519")
    signed = load_signers(tmp_path)["shop.example"].sign(compose())

    h = re.search(rb"h=([^;]*);", signed.replace(b"\r\n ", b" ")).group(1)  # type: ignore[union-attr]
    assert {"list-unsubscribe", "list-unsubscribe-post", "feedback-id"} <= {
        name.strip() for name in h.decode().split(":")
    }
