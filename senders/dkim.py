"""DKIM signing of outgoing e-mail: RSA (rsa-sha256) and Ed25519 (ed25519-sha256, RFC 8463).

    info = generate_dkim_key(keys_dir, "shop.example", "h2026", algorithm="ed25519")
    print(info.dns_name, info.dns_value)     # publish: h2026._domainkey.shop.example TXT ...
    signers = load_signers(keys_dir)         # {"shop.example": DkimSigner(...)}
    signed = signers["shop.example"].sign(message_bytes)

Keys live in `<keys_dir>/<domain>/<selector>.pem` (an unencrypted PEM private key, RSA or
Ed25519). A domain with several keys (say an RSA and an Ed25519 one) is signed with each,
one DKIM-Signature header per key, so receivers that do not know Ed25519 still find the RSA
signature. Canonicalization is relaxed/relaxed; the signed headers are those of
`SIGNED_HEADERS` the message has, and From is signed once more than it occurs (oversigned),
so nobody can add a second From without breaking the signature.

dkimpy does the canonicalization and writes the header, but as shipped it is slow for bulk
mail: its RSA private-key operation is pure Python (about 6.5 ms for a 2048-bit key),
`dkim.DKIM.sign` parses the PEM key on every call, and its parsing and relaxed body
canonicalization run regular expressions over the whole body (about 0.8 ms for 20 KB). So
this module installs, once on import, five wrappers in dkimpy's module namespaces, where
dkimpy's own code looks them up at call time; each gives the result of the function it wraps:

- `dkim.parse_pem_private_key`: given a `_PreparedRsaKey` (the PEM bytes of one of our keys,
  carrying the key already parsed) returns that parsed key; any other PEM goes to dkimpy.
- `dkim.RSASSA_PKCS1_v1_5_sign`: given a `_ParsedRsaKey` (dkimpy's key dict, carrying the
  `cryptography` key) signs the digest with OpenSSL; any other key goes to dkimpy.
- `dkim.rfc822_parse`: for a CRLF-only message, lets dkimpy parse the header block only and
  takes the body as the bytes after the blank line (what dkimpy's split-and-join yields).
- `dkim.canonicalization.compress_whitespace` and `strip_trailing_whitespace`: return the
  input unchanged when a substring search shows there is nothing to change (and collapse
  runs of spaces with a literal-prefix pattern when there is no tab); otherwise dkimpy's.

PKCS#1 v1.5 and Ed25519 signatures are deterministic, so the hooked and the shipped dkimpy
give byte-identical headers; the unit tests hold us to it (`without_fast_paths()` switches
the hooks off). Other code in the process that uses dkimpy with its own keys or for
verifying sees the same results. The hooks rely on dkimpy's internal names (checked with
dkimpy 1.1.8); if a new dkimpy drops one, importing this module fails loudly rather than
signing slowly. Ed25519 signing itself is dkimpy's (PyNaCl, libsodium).

An RSA public key in DNS is longer than one 255-byte TXT string; `dns_value` is the whole
value, which DNS tools split into several strings of one record.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import dkim
import dkim.canonicalization
import dkim.crypto
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from herald.errors import HeraldError

Algorithm = Literal["rsa", "ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("rsa", "ed25519")
MIN_RSA_BITS = 1024

#: Header fields signed when the message has them (lowercase, the order of h=).
SIGNED_HEADERS: tuple[str, ...] = (
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "to",
    "cc",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-id",
    "feedback-id",
)
#: Header fields signed one extra time, so that adding another one breaks the signature.
OVERSIGNED_HEADERS: tuple[str, ...] = ("from",)

_CANONICALIZE = (b"relaxed", b"relaxed")
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SIGNED_BYTES = tuple(name.encode() for name in SIGNED_HEADERS)
_OVERSIGNED_BYTES = tuple(name.encode() for name in OVERSIGNED_HEADERS)


class DkimError(HeraldError):
    """A DKIM key that is missing, unreadable or of a kind we cannot sign with, or a message
    that cannot be signed."""


@dataclass(frozen=True)
class DkimKeyInfo:
    """One key of a sending domain and the DNS TXT record that publishes its public half."""

    domain: str
    selector: str
    algorithm: Algorithm
    path: Path
    dns_name: str  # <selector>._domainkey.<domain>
    dns_value: str  # v=DKIM1; k=rsa; p=...


@dataclass(frozen=True)
class DkimKey:
    """A loaded private key, in the form dkimpy takes it."""

    info: DkimKeyInfo
    signature_algorithm: bytes  # b"rsa-sha256" or b"ed25519-sha256"
    private_key: bytes  # a _PreparedRsaKey (PEM) or the base64 Ed25519 seed


class DkimSigner:
    """Signs messages for one domain with each of its keys (one header per key)."""

    def __init__(self, domain: str, keys: list[DkimKey]) -> None:
        if not keys:
            raise DkimError(f"DKIM: no keys for {domain}")
        self.domain = domain
        self.keys = tuple(keys)
        self._domain_bytes = domain.encode("ascii")

    def __repr__(self) -> str:
        selectors = ", ".join(f"{k.info.selector}:{k.info.algorithm}" for k in self.keys)
        return f"DkimSigner({self.domain!r}, [{selectors}])"

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header per key prepended (first key on top)."""
        try:
            signer = dkim.DKIM(message, linesep=b"\r\n")
        except dkim.DKIMException as error:
            raise DkimError(f"DKIM: cannot parse the message to sign: {error}") from None
        include_headers = signed_header_names(name for name, _ in signer.headers)
        if b"from" not in include_headers:
            raise DkimError("DKIM: the message has no From header")
        signatures = []
        for key in self.keys:
            try:
                signatures.append(
                    signer.sign(
                        key.info.selector.encode("ascii"),
                        self._domain_bytes,
                        key.private_key,
                        signature_algorithm=key.signature_algorithm,
                        canonicalize=_CANONICALIZE,
                        include_headers=include_headers,
                    )
                )
            except dkim.DKIMException as error:
                raise DkimError(
                    f"DKIM: cannot sign for {self.domain} with {key.info.path}: {error}"
                ) from None
        return b"".join(signatures) + message


def signed_header_names(present: Iterable[bytes]) -> list[bytes]:
    """h= for a message whose header names are `present` (bytes, in message order): each
    name of SIGNED_HEADERS once per occurrence, then the oversigned ones once more."""
    counts: dict[bytes, int] = {}
    for name in present:
        lower = name.lower()
        counts[lower] = counts.get(lower, 0) + 1
    names: list[bytes] = []
    for name in _SIGNED_BYTES:
        names.extend([name] * counts.get(name, 0))
    names.extend(name for name in _OVERSIGNED_BYTES if name in counts)
    return names


def generate_dkim_key(
    keys_dir: Path | str,
    domain: str,
    selector: str,
    algorithm: Algorithm = "rsa",
    bits: int = 2048,
) -> DkimKeyInfo:
    """Write a new private key to `<keys_dir>/<domain>/<selector>.pem` (mode 0600) and return
    the TXT record to publish. An existing key is never overwritten: rotate with a new
    selector."""
    domain = _ascii_domain(domain)
    _check_selector(selector)
    private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if algorithm == "rsa":
        if bits < MIN_RSA_BITS:
            raise DkimError(f"DKIM: an RSA key needs at least {MIN_RSA_BITS} bits, not {bits}")
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    elif algorithm == "ed25519":
        private_key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise DkimError(f"DKIM: unknown key algorithm {algorithm!r} (use rsa or ed25519)")
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = Path(keys_dir) / domain / f"{selector}.pem"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DkimError(f"DKIM: {path} already exists; choose a new selector") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return load_dkim_key(path, domain, selector).info


def load_dkim_key(path: Path | str, domain: str, selector: str) -> DkimKey:
    """Read one PEM private key (RSA or Ed25519, unencrypted) for signing."""
    path = Path(path)
    domain = _ascii_domain(domain)
    _check_selector(selector)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise DkimError(f"DKIM: key file {path} does not exist") from None
    except OSError as error:
        raise DkimError(f"DKIM: cannot read key file {path}: {error.strerror}") from None
    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise DkimError(f"DKIM: key file {path} is encrypted; store it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise DkimError(f"DKIM: {path} is not a PEM private key") from None
    dns_name = f"{selector}._domainkey.{domain}"
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < MIN_RSA_BITS:
            raise DkimError(
                f"DKIM: {path} is a {private_key.key_size}-bit RSA key; "
                f"receivers need at least {MIN_RSA_BITS} bits"
            )
        public_der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        info = DkimKeyInfo(
            domain,
            selector,
            "rsa",
            path,
            dns_name,
            f"v=DKIM1; k=rsa; p={base64.b64encode(public_der).decode()}",
        )
        return DkimKey(info, b"rsa-sha256", _prepare_rsa_key(private_key))
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        seed = private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        info = DkimKeyInfo(
            domain,
            selector,
            "ed25519",
            path,
            dns_name,
            f"v=DKIM1; k=ed25519; p={base64.b64encode(public_raw).decode()}",
        )
        return DkimKey(info, b"ed25519-sha256", base64.b64encode(seed))
    kind = type(private_key).__name__.removeprefix("_").removesuffix("PrivateKey")
    raise DkimError(f"DKIM: {path} is an unsupported {kind} key (use RSA or Ed25519)")


def load_signers(keys_dir: Path | str) -> dict[str, DkimSigner]:
    """One signer per domain directory under `keys_dir`, with every `<selector>.pem` in it
    (RSA keys first, then by selector)."""
    keys_dir = Path(keys_dir)
    if not keys_dir.is_dir():
        raise DkimError(f"DKIM: key directory {keys_dir} does not exist")
    signers: dict[str, DkimSigner] = {}
    for domain_dir in sorted(keys_dir.iterdir()):
        if not domain_dir.is_dir():
            continue
        keys = [
            load_dkim_key(path, domain_dir.name, path.stem)
            for path in sorted(domain_dir.glob("*.pem"))
        ]
        if keys:
            keys.sort(key=lambda key: (key.info.algorithm != "rsa", key.info.selector))
            domain = keys[0].info.domain
            signers[domain] = DkimSigner(domain, keys)
    return signers


def _ascii_domain(domain: str) -> str:
    """The domain in lowercase ASCII (IDNA for a non-ASCII name), or DkimError."""
    name = domain.strip().rstrip(".").lower()
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise DkimError(f"DKIM: {domain!r} is not a domain name") from None
    labels = ascii_name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise DkimError(f"DKIM: {domain!r} is not a domain name")
    return ascii_name


def _check_selector(selector: str) -> None:
    if not all(_SELECTOR.match(label) for label in selector.split(".")):
        raise DkimError(f"DKIM: {selector!r} is not a selector (letters, digits, - and _)")


# The fast RSA path (see the module docstring).


class _ParsedRsaKey(dict[str, int]):
    """dkimpy's parsed RSA key dict, carrying the same key for OpenSSL."""

    openssl_key: rsa.RSAPrivateKey


class _PreparedRsaKey(bytes):
    """The PEM text of one of our RSA keys, carrying it already parsed."""

    parsed: _ParsedRsaKey


def _prepare_rsa_key(private_key: rsa.RSAPrivateKey) -> _PreparedRsaKey:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    parsed = _ParsedRsaKey(_PURE_PARSE(pem))
    parsed.openssl_key = private_key
    prepared = _PreparedRsaKey(pem)
    prepared.parsed = parsed
    return prepared


_PURE_PARSE: Callable[[bytes], dict[str, int]] = dkim.crypto.parse_pem_private_key
_PURE_SIGN: Callable[[Any, dict[str, int]], bytes] = dkim.crypto.RSASSA_PKCS1_v1_5_sign
_PURE_RFC822_PARSE: Callable[[bytes], tuple[list[list[bytes]], bytes]] = dkim.rfc822_parse
_PURE_COMPRESS: Callable[[bytes], bytes] = dkim.canonicalization.compress_whitespace
_PURE_STRIP_TRAILING: Callable[[bytes], bytes] = dkim.canonicalization.strip_trailing_whitespace
_SPACE_RUNS = re.compile(b"  +")
_PREHASHED = {"sha256": Prehashed(hashes.SHA256()), "sha1": Prehashed(hashes.SHA1())}


def _parse_pem_private_key(data: bytes) -> dict[str, int]:
    if isinstance(data, _PreparedRsaKey):
        return data.parsed
    return _PURE_PARSE(data)


def _rsassa_pkcs1_v1_5_sign(hasher: Any, private_key: dict[str, int]) -> bytes:
    prehashed = _PREHASHED.get(hasher.name.lower())
    if isinstance(private_key, _ParsedRsaKey) and prehashed is not None:
        return private_key.openssl_key.sign(hasher.digest(), padding.PKCS1v15(), prehashed)
    return _PURE_SIGN(hasher, private_key)


# The fast canonicalization path: same results as dkimpy's functions, without a regular
# expression scanning 20 KB byte by byte when a plain substring search shows there is
# nothing to change.


def _rfc822_parse(message: bytes) -> tuple[list[list[bytes]], bytes]:
    """dkimpy's rfc822_parse run on the header block only, for a message with CRLF line
    ends and at least one header (the body is then the bytes after the first blank line)."""
    end = message.find(b"\r\n\r\n")
    if end > 0 and message.count(b"\n") == message.count(b"\r\n"):
        headers, _ = _PURE_RFC822_PARSE(message[: end + 2])
        return headers, message[end + 4 :]
    return _PURE_RFC822_PARSE(message)


def _compress_whitespace(content: bytes) -> bytes:
    """dkimpy's `[\\t ]+` -> one space: without tabs, only runs of two or more spaces change."""
    if b"\t" in content:
        return _PURE_COMPRESS(content)
    if b"  " not in content:
        return content
    return _SPACE_RUNS.sub(b" ", content)


def _strip_trailing_whitespace(content: bytes) -> bytes:
    """dkimpy's `[\\t ]+\\r\\n` -> CRLF: without tabs, cut the spaces before each
    " \\r\\n" found."""
    if b" \r\n" not in content and b"\t\r\n" not in content:
        return content
    if b"\t" in content:
        return _PURE_STRIP_TRAILING(content)
    pieces = []
    done = 0
    found = content.find(b" \r\n")
    while found != -1:
        start = found
        while start > done and content[start - 1] == 0x20:
            start -= 1
        pieces.append(content[done:start])
        done = found + 1
        found = content.find(b" \r\n", done)
    pieces.append(content[done:])
    return b"".join(pieces)


_HOOKS: tuple[tuple[Any, str, Callable[..., Any]], ...] = (
    (dkim, "parse_pem_private_key", _parse_pem_private_key),
    (dkim, "RSASSA_PKCS1_v1_5_sign", _rsassa_pkcs1_v1_5_sign),
    (dkim, "rfc822_parse", _rfc822_parse),
    (dkim.canonicalization, "compress_whitespace", _compress_whitespace),
    (dkim.canonicalization, "strip_trailing_whitespace", _strip_trailing_whitespace),
)


def _install_fast_paths() -> None:
    for module, name, _ in _HOOKS:
        if not callable(getattr(module, name, None)):
            raise ImportError(f"dkimpy has no {module.__name__}.{name}; senders/dkim.py needs it")
    for module, name, replacement in _HOOKS:
        setattr(module, name, replacement)


@contextmanager
def without_fast_paths() -> Iterator[None]:
    """Run dkimpy as it ships (pure-Python RSA, its own parsing) for the duration: how the
    tests show both paths give the same bytes. Not for production use: it switches the
    process-wide hooks off, for every thread."""
    for module, name, _ in _HOOKS:
        setattr(module, name, _ORIGINALS[name])
    try:
        yield
    finally:
        for module, name, replacement in _HOOKS:
            setattr(module, name, replacement)


_ORIGINALS: dict[str, Callable[..., Any]] = {
    "parse_pem_private_key": _PURE_PARSE,
    "RSASSA_PKCS1_v1_5_sign": _PURE_SIGN,
    "rfc822_parse": _PURE_RFC822_PARSE,
    "compress_whitespace": _PURE_COMPRESS,
    "strip_trailing_whitespace": _PURE_STRIP_TRAILING,
}
_install_fast_paths()
