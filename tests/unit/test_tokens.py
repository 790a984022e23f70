"""Signed tracking tokens: what the sender signs, the tracker verifies, and nothing else.

A token is `<key id>.<payload>.<signature>`. The first key signs, every listed key verifies
(so keys rotate without breaking links already sent), and every way a token can be wrong is
a TokenError saying which check failed. A click token never leads anywhere but an http or
https address with a host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.tokens import (
    SIGNATURE_BYTES,
    TOKEN_KINDS,
    MessageTokens,
    TokenError,
    TokenKeys,
    TokenKind,
    TrackingToken,
    _signature,
    sign_token,
    verify_token,
)

NEW_KEY = "t1:" + "k" * 32
OLD_KEY = "t0:" + "o" * 32
KEYS = TokenKeys.parse(NEW_KEY)
NOW = 1_800_000_000


def a_token(kind: TokenKind, **fields: object) -> TrackingToken:
    """A token of `kind` with the fields a sender gives that kind."""
    values: dict[str, object] = {
        "database": "customers",
        "profile_id": "p1",
        "campaign_run": "run-1",
        "message_id": "m1",
    }
    if kind == "click":
        values.update(link=1, url="https://shop.example/sale")
    if kind == "unsubscribe":
        values.update(language="ru", resource="news")
    values.update(fields)
    return TrackingToken(kind=kind, **values)  # type: ignore[arg-type]


def signed_over(payload: object, key: str = NEW_KEY) -> str:
    """A token with a valid signature over any payload: what someone holding the key could
    make without going through sign_token."""
    key_id, _, secret = key.partition(":")
    text = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    signed = f"{key_id}.{text}"
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).rstrip(b"=").decode()
    return f"{signed}.{signature}"


def refusal(text: str, keys: TokenKeys = KEYS, **options: object) -> str:
    with pytest.raises(TokenError) as refused:
        verify_token(text, keys, **options)  # type: ignore[arg-type]
    return str(refused.value)


# --- round trip ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_a_signed_token_verifies_to_the_same_fields(kind: TokenKind) -> None:
    token = a_token(kind)

    assert verify_token(sign_token(token, KEYS), KEYS) == token


def test_a_token_names_its_key_and_carries_no_padding() -> None:
    text = sign_token(a_token("open"), KEYS)

    key_id, payload, signature = text.split(".")
    assert key_id == "t1"
    assert "=" not in text
    assert len(base64.urlsafe_b64decode(signature + "==")) == SIGNATURE_BYTES
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))[1] == "o"


def test_names_in_any_language_survive_the_round_trip() -> None:
    token = a_token("unsubscribe", profile_id="профиль-1", resource="Новости магазина")

    assert verify_token(sign_token(token, KEYS), KEYS) == token


def test_a_token_of_an_accepted_kind_verifies() -> None:
    text = sign_token(a_token("click"), KEYS)

    assert verify_token(text, KEYS, kinds=("identify", "click")).kind == "click"


def test_a_token_verifies_until_the_second_it_expires() -> None:
    text = sign_token(a_token("view", expires_at=NOW), KEYS)

    assert verify_token(text, KEYS, now=NOW).expires_at == NOW


# --- key rotation ----------------------------------------------------------------------


def test_the_first_listed_key_signs() -> None:
    rotated = TokenKeys.parse(f"{NEW_KEY},{OLD_KEY}")

    assert sign_token(a_token("open"), rotated).startswith("t1.")


def test_a_link_signed_by_the_old_key_verifies_while_both_keys_are_listed() -> None:
    old_link = sign_token(a_token("click"), TokenKeys.parse(OLD_KEY))

    assert verify_token(old_link, TokenKeys.parse(f"{NEW_KEY},{OLD_KEY}")) == a_token("click")


def test_a_link_signed_by_the_old_key_fails_once_the_old_key_is_dropped() -> None:
    old_link = sign_token(a_token("click"), TokenKeys.parse(OLD_KEY))

    assert refusal(old_link, TokenKeys.parse(NEW_KEY)) == (
        "the link was signed by a key this service does not know"
    )


def test_a_secret_changed_under_the_same_key_id_fails_as_forged() -> None:
    link = sign_token(a_token("open"), KEYS)

    assert refusal(link, TokenKeys.parse("t1:" + "x" * 32)) == "the link was altered or forged"


# --- damaged, forged, expired ----------------------------------------------------------


def test_an_altered_payload_is_refused_as_forged() -> None:
    key_id, _payload, signature = sign_token(a_token("click"), KEYS).split(".")
    other_payload = sign_token(a_token("click", profile_id="p2"), KEYS).split(".")[1]

    assert refusal(f"{key_id}.{other_payload}.{signature}") == "the link was altered or forged"


def test_an_altered_signature_is_refused_as_forged() -> None:
    text = sign_token(a_token("open"), KEYS)
    altered = text[:-1] + ("A" if text[-1] != "A" else "B")

    assert refusal(altered) == "the link was altered or forged"


def test_a_truncated_token_is_refused_as_damaged() -> None:
    text = sign_token(a_token("open"), KEYS)

    assert refusal(text[: text.rindex(".")]) == "the link is incomplete or damaged"


def test_a_truncated_signature_is_refused_as_forged() -> None:
    text = sign_token(a_token("open"), KEYS)

    assert refusal(text[:-3]) == "the link was altered or forged"


@pytest.mark.parametrize("extra", [".", ".gif", "..x"])
def test_a_token_with_extra_dots_is_refused_as_damaged(extra: str) -> None:
    assert refusal(sign_token(a_token("open"), KEYS) + extra) == "the link is incomplete or damaged"


@pytest.mark.parametrize("text", ["", ".", "t1.payload", "x" * 5000])
def test_an_empty_short_or_oversized_token_is_refused_as_damaged(text: str) -> None:
    assert refusal(text) == "the link is incomplete or damaged"


@pytest.mark.parametrize("text", ["t1.é.x", "t1.abc.é", "t1.ab\x80c.xyz", "t1.абв.где"])
def test_a_token_with_characters_outside_its_alphabet_is_refused_as_damaged(text: str) -> None:
    assert refusal(text) == "the link is incomplete or damaged"


def test_a_token_of_an_unknown_key_id_is_refused() -> None:
    text = sign_token(a_token("open"), TokenKeys.parse("t9:" + "n" * 32))

    assert refusal(text) == "the link was signed by a key this service does not know"


def test_an_expired_token_is_refused() -> None:
    text = sign_token(a_token("unsubscribe", expires_at=NOW), KEYS)

    assert refusal(text, now=NOW + 1) == "the link has expired"


def test_a_token_of_another_kind_is_refused_and_says_which_kind_it_is() -> None:
    open_token = sign_token(a_token("open"), KEYS)

    assert refusal(open_token, kinds=("click",)) == (
        "this is not a link of that kind (it is a open link)"
    )


def test_a_signed_payload_of_another_version_is_refused() -> None:
    payload = a_token("open").payload()
    payload[0] = 2

    assert refusal(signed_over(payload)) == "the link is of an unknown version"


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "open"},
        [1, "z", "customers", "p1", "", "", "email", None, None, "en", "*", None],
        [1, "o", "customers", 7, "", "", "email", None, None, "en", "*", None],
        [1, "c", "customers", "p1", "", "", "email", True, "https://a.example", "en", "*", None],
        [1, "o", "customers", "p1", "", "", "email", None, None, "en", "*", "tomorrow"],
    ],
    ids=["not-a-list", "unknown-kind", "number-id", "boolean-link", "text-expiry"],
)
def test_a_signed_payload_with_fields_of_the_wrong_shape_is_refused(payload: object) -> None:
    with pytest.raises(TokenError):
        verify_token(signed_over(payload), KEYS)


# --- where a click may lead ------------------------------------------------------------

HOSTILE_URLS = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/phish",
    "/relative/path",
    "http://user:pw@shop.example/",
    "https://shop.example@evil.example/",
    "https://shop.example\\@evil.example/",
    "https:\\\\evil.example",
    "https://shop.example/\r\nSet-Cookie: session=evil",
    "https://shop.example/\tx",
    "https://shop.example/ x",
    "https://shop.example/\x00",
    "https://shop.example/\x7f",
    "https:///no-host",
    "https://",
    "http:evil.example",
    "https://[::1/",
    "https://shop.example/" + "a" * 2048,
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_click_token_cannot_be_signed_for_a_hostile_url(url: str) -> None:
    with pytest.raises(TokenError):
        sign_token(a_token("click", url=url), KEYS)


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_click_token_forged_over_a_hostile_url_is_refused(url: str) -> None:
    payload = a_token("click").payload()
    payload[8] = url

    with pytest.raises(TokenError):
        verify_token(signed_over(payload), KEYS)


def test_a_click_token_without_a_url_cannot_be_signed() -> None:
    with pytest.raises(TokenError, match="a click token needs the link's url"):
        sign_token(a_token("click", url=None), KEYS)


def test_a_click_token_forged_without_a_url_is_refused() -> None:
    payload = a_token("click").payload()
    payload[8] = None

    assert refusal(signed_over(payload)) == (
        "the link does not lead to a web address (http or https)"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example",
        "https://shop.example/sale?utm_source=herald&x=%20y#top",
        "https://shop.example:8443/a/b",
        "https://магазин.example/распродажа",
    ],
)
def test_a_click_token_for_a_web_address_keeps_it_exactly(url: str) -> None:
    assert verify_token(sign_token(a_token("click", url=url), KEYS), KEYS).url == url


# --- whatever arrives ------------------------------------------------------------------

TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
token_like = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=TOKEN_ALPHABET, max_size=200),
    st.builds(
        "{}.{}.{}".format,
        st.sampled_from(["t1", "t0", "x"]),
        st.text(max_size=80),
        st.text(max_size=30),
    ),
    st.builds(
        "{}.{}.{}".format,
        st.sampled_from(["t1", "t0"]),
        st.text(alphabet=TOKEN_ALPHABET[:-1], max_size=120),
        st.text(alphabet=TOKEN_ALPHABET[:-1], max_size=30),
    ),
)


@settings(max_examples=500, deadline=None)
@given(text=token_like)
def test_random_text_never_verifies_and_fails_only_with_a_token_error(text: str) -> None:
    with pytest.raises(TokenError):
        verify_token(text, TokenKeys.parse(f"{NEW_KEY},{OLD_KEY}"))


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters())
def test_changing_any_character_of_a_token_makes_it_fail(position: int, replacement: str) -> None:
    text = sign_token(a_token("click"), KEYS)
    position %= len(text)
    altered = text[:position] + replacement + text[position + 1 :]
    if altered == text:
        return

    with pytest.raises(TokenError):
        verify_token(altered, KEYS)


def test_message_tokens_are_the_tokens_sign_token_makes():
    keys = TokenKeys.parse("t1:" + "s" * 32 + ",t0:" + "o" * 32)
    base = TrackingToken(kind="open", database="shop", profile_id="p1", campaign_run="run-7",
                         message_id="m-1@shop.example", language="ru")  # fmt: skip
    tokens = MessageTokens(base, keys)

    assert tokens.sign("open") == sign_token(base, keys)
    click = replace(base, kind="click", link=3, url="https://shop.example/a?b=1&c=д")
    assert tokens.sign("click", link=3, url=click.url) == sign_token(click, keys)
    leave = replace(base, kind="unsubscribe", resource="news")
    assert tokens.sign("unsubscribe", resource="news") == sign_token(leave, keys)
    assert verify_token(tokens.sign("click", link=1, url="https://x.example/"), keys).link == 1


def test_message_tokens_refuse_a_link_that_is_not_a_web_address():
    tokens = MessageTokens(TrackingToken(kind="open", database="d", profile_id="p"),
                           TokenKeys.parse("t1:" + "s" * 32))  # fmt: skip
    with pytest.raises(TokenError):
        tokens.sign("click", link=1, url="javascript:alert(1)")


@pytest.mark.parametrize("secret", [b"s" * 16, b"k" * 64, b"long" * 40])
def test_signatures_are_rfc_2104_hmac_sha256(secret):
    signed = "t1.payload"
    expected = hmac.digest(secret, signed.encode(), "sha256")[:16]
    assert _signature(secret, signed) == base64.urlsafe_b64encode(expected).rstrip(b"=").decode()
