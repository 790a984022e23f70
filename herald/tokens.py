"""Signed tracking tokens: what an open pixel, a tracked link or an unsubscribe link carries.

    keys = TokenKeys.from_settings(settings)
    text = sign_token(TrackingToken(kind="click", database="shop", profile_id="p1",
                                    campaign_run="run-7", message_id="m-1", link=2,
                                    url="https://shop.example/sale"), keys)
    token = verify_token(text, keys)          # TokenError (with a reason) if forged or expired

A token is `<key id>.<payload>.<signature>`: the payload is a compact JSON array in URL-safe
base64, the signature the first 16 bytes of HMAC-SHA256 over `<key id>.<payload>` with the
key of that id. The first key signs; every listed key verifies, so keys rotate without
breaking links already sent: add a new key first, and drop the old one once its links may
expire. The sender signs (issue #7) and the tracker verifies; both read the same keys.

A payload is readable by anyone who holds the link (base64 is not encryption), so tokens
carry ids, never an address.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import orjson

from herald.errors import HeraldError

if TYPE_CHECKING:
    from herald.settings import Settings

TokenKind = Literal["open", "click", "unsubscribe", "view", "identify"]
TOKEN_KINDS: tuple[TokenKind, ...] = ("open", "click", "unsubscribe", "view", "identify")
_KIND_CODES: dict[str, TokenKind] = {kind[0]: kind for kind in TOKEN_KINDS}
_VERSION = 1
SIGNATURE_BYTES = 16
MAX_TOKEN_CHARS = 4096
KEY_FILE = "tracking-keys"
_KEY_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


class TokenError(HeraldError):
    """A token that is malformed, not signed by a known key, altered or expired."""


class TokenKeysError(HeraldError):
    """HERALD_TRACKING_KEYS (or the key file) is not a list of `id:secret` pairs."""


@dataclass(frozen=True)
class TrackingToken:
    """Who a message went to and what the link is: the fields of a signed token."""

    kind: TokenKind
    database: str
    profile_id: str
    campaign_run: str = ""
    message_id: str = ""
    channel: str = "email"
    link: int | None = None  # the link's place in the message (1, 2, ...), clicks only
    url: str | None = None  # where a click goes (http or https), clicks only
    language: str = "en"  # of the pages the recipient sees (unsubscribe)
    resource: str = "*"  # what an unsubscribe leaves: a newsletter or topic, or the channel
    expires_at: int | None = None  # Unix seconds; None: does not expire

    def payload(self) -> list[object]:
        return [
            _VERSION,
            self.kind[0],
            self.database,
            self.profile_id,
            self.campaign_run,
            self.message_id,
            self.channel,
            self.link,
            self.url,
            self.language,
            self.resource,
            self.expires_at,
        ]


@dataclass(frozen=True)
class TokenKeys:
    """Signing keys by id; the first one signs new tokens."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise TokenKeysError("no tracking key: give at least one id:secret pair")
        for key_id, secret in self.keys:
            if not key_id or not set(key_id) <= _KEY_ID_CHARS or len(key_id) > 32:
                raise TokenKeysError(f"key id {key_id!r}: use 1 to 32 letters, digits, '-' or '_'")
            if len(secret) < 16:
                raise TokenKeysError(f"key {key_id!r}: the secret needs at least 16 characters")

    @property
    def signing(self) -> tuple[str, bytes]:
        return self.keys[0]

    def secret(self, key_id: str) -> bytes | None:
        for known, secret in self.keys:
            if known == key_id:
                return secret
        return None

    @classmethod
    def parse(cls, text: str) -> TokenKeys:
        """`id:secret[,id:secret...]`, the signing key first."""
        pairs: list[tuple[str, bytes]] = []
        for item in text.replace("\n", ",").split(","):
            item = item.strip()
            if not item:
                continue
            key_id, sep, secret = item.partition(":")
            if not sep:
                raise TokenKeysError(f"{item[:12]!r}…: write each key as id:secret")
            pairs.append((key_id.strip(), secret.strip().encode()))
        return cls(tuple(pairs))

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenKeys:
        """HERALD_TRACKING_KEYS, or else the key file in HERALD_HOME (made once, mode 0600).
        Every host that signs or verifies tokens must have the same keys."""
        if settings.tracking_keys:
            return cls.parse(settings.tracking_keys)
        return cls.parse(_key_file(settings.home / KEY_FILE))


def _key_file(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    text = f"k{time.strftime('%Y%m%d')}:{secrets.token_urlsafe(32)}\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    try:
        os.link(temporary, path)  # the first process to get here makes the key
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, signed: str) -> str:
    """The first 16 bytes of HMAC-SHA256(secret, signed), URL-safe base64 (RFC 2104 done
    with the key's padded hash states computed once: a third of `hmac.digest`'s time)."""
    inner, outer = _hmac_states(secret)
    inner = inner.copy()
    inner.update(signed.encode("ascii"))
    outer = outer.copy()
    outer.update(inner.digest())
    return _b64(outer.digest()[:SIGNATURE_BYTES])


@functools.lru_cache(maxsize=64)
def _hmac_states(secret: bytes) -> tuple[Any, Any]:
    block = hashlib.sha256().block_size
    key = hashlib.sha256(secret).digest() if len(secret) > block else secret
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
    return inner, outer


def check_redirect_url(url: str) -> str:
    """The URL if a click may redirect to it (absolute http or https, a host, no
    credentials, no control characters); TokenError otherwise."""
    problem = _redirect_problem(url)
    if problem is not None:
        raise TokenError(problem)
    return url


_UNUSABLE_CHARS = re.compile(r"[\x00-\x20\x7f]")


@functools.lru_cache(maxsize=8192)
def _redirect_problem(url: str) -> str | None:
    """Why a click may not redirect to `url` (None: it may). Cached: a campaign's links are
    the same for every recipient."""
    if len(url) > 2048 or _UNUSABLE_CHARS.search(url):
        return "the link's address is not a usable web address"
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return "the link's address is not a usable web address"
    if parts.scheme not in ("http", "https") or not hostname:
        return "the link does not lead to a web address (http or https)"
    if parts.username is not None or parts.password is not None or "\\" in url:
        return "the link's address carries credentials or backslashes"
    return None


def sign_token(token: TrackingToken, keys: TokenKeys) -> str:
    if token.kind == "click":
        if token.url is None:
            raise TokenError("a click token needs the link's url")
        check_redirect_url(token.url)
    key_id, secret = keys.signing
    signed = f"{key_id}.{_b64(orjson.dumps(token.payload()))}"
    return f"{signed}.{_signature(secret, signed)}"


class MessageTokens:
    """The tokens of one message, which differ only in kind, link, url and resource: signed
    exactly as `sign_token` signs them, without a TrackingToken per link (a campaign e-mail
    has a token per link, for every recipient).

        tokens = MessageTokens(TrackingToken(kind="open", database="shop", profile_id="p1",
                                             campaign_run="run-7", message_id="m-1"), keys)
        tokens.sign("click", link=3, url="https://shop.example/sale")
    """

    __slots__ = ("_key_id", "_payload", "_secret")

    def __init__(self, base: TrackingToken, keys: TokenKeys) -> None:
        self._key_id, self._secret = keys.signing
        self._payload = base.payload()

    def sign(
        self,
        kind: TokenKind,
        *,
        link: int | None = None,
        url: str | None = None,
        resource: str | None = None,
    ) -> str:
        if kind == "click":
            if url is None:
                raise TokenError("a click token needs the link's url")
            check_redirect_url(url)
        payload = self._payload.copy()
        payload[1] = kind[0]
        payload[7] = link
        payload[8] = url
        if resource is not None:
            payload[10] = resource
        signed = f"{self._key_id}.{_b64(orjson.dumps(payload))}"
        return f"{signed}.{_signature(self._secret, signed)}"


def verify_token(
    text: str, keys: TokenKeys, *, kinds: Sequence[TokenKind] = (), now: float | None = None
) -> TrackingToken:
    """The token's fields if `keys` signed it, it is unaltered, unexpired and of one of
    `kinds` (any kind when empty); TokenError saying which check failed otherwise."""
    if not text or len(text) > MAX_TOKEN_CHARS or not text.isascii():
        raise TokenError("the link is incomplete or damaged")
    parts = text.split(".")
    if len(parts) != 3:
        raise TokenError("the link is incomplete or damaged")
    key_id, payload_text, signature = parts
    secret = keys.secret(key_id)
    if secret is None:
        raise TokenError("the link was signed by a key this service does not know")
    if not hmac.compare_digest(_signature(secret, f"{key_id}.{payload_text}"), signature):
        raise TokenError("the link was altered or forged")
    try:
        fields = orjson.loads(_unb64(payload_text))
    except (binascii.Error, ValueError):  # orjson.JSONDecodeError is a ValueError
        raise TokenError("the link is incomplete or damaged") from None
    token = token_from_payload(fields)
    if kinds and token.kind not in kinds:
        raise TokenError(f"this is not a link of that kind (it is a {token.kind} link)")
    if token.expires_at is not None and (now if now is not None else time.time()) > (
        token.expires_at
    ):
        raise TokenError("the link has expired")
    if token.kind == "click":
        check_redirect_url(token.url or "")
    return token


def token_from_payload(fields: object) -> TrackingToken:
    if not isinstance(fields, list) or len(fields) != 12 or fields[0] != _VERSION:
        raise TokenError("the link is of an unknown version")
    (_, code, database, profile_id, run, message_id, channel, link, url, language, resource,
     expires_at) = fields  # fmt: skip
    kind = _KIND_CODES.get(code) if isinstance(code, str) else None
    texts = (database, profile_id, run, message_id, channel, language, resource)
    if (
        kind is None
        or not all(isinstance(value, str) for value in texts)
        or not (link is None or (isinstance(link, int) and not isinstance(link, bool)))
        or not (url is None or isinstance(url, str))
        or not (expires_at is None or isinstance(expires_at, int))
    ):
        raise TokenError("the link is incomplete or damaged")
    return TrackingToken(
        kind=kind,
        database=database,
        profile_id=profile_id,
        campaign_run=run,
        message_id=message_id,
        channel=channel,
        link=link,
        url=url,
        language=language,
        resource=resource,
        expires_at=expires_at,
    )
