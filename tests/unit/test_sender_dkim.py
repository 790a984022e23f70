"""DKIM signing: what a receiver verifies, what breaks a signature, and the fast path.

Every signature is checked by dkimpy's verifier against the TXT record `generate_dkim_key`
returned (no DNS). The fast path (OpenSSL for RSA, cheaper parsing and canonicalization)
must give the very bytes dkimpy gives as it ships: RSA PKCS#1 v1.5 and Ed25519 signatures
are deterministic, so equal inputs must give equal headers.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from senders.dkim import (
    DkimError,
    DkimKeyInfo,
    DkimSigner,
    generate_dkim_key,
    load_signers,
    without_fast_paths,
)

MESSAGE = (
    b"From: Shop <news@shop.example>\r\n"
    b"To: Ivan <ivan@mail.example>\r\n"
    b"Subject: Autumn sale\r\n"
    b"Date: Thu, 26 Nov 2026 09:00:00 +0000\r\n"
    b"Message-ID: <m-1@shop.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"List-Unsubscribe: <https://t.shop.example/u/abc>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"Feedback-ID: c1:run-1:shop:herald\r\n"
    b"X-Herald-Key: run-1:p1:email:0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 7bit\r\n"
    b"\r\n"
    b"Hello Ivan,  \r\n"
    b"everything   is 20% off\tthis week.\r\n"
    b"\r\n"
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DkimKeyInfo]]:
    """One RSA domain, one Ed25519 domain and one domain with both keys."""
    keys_dir = tmp_path_factory.mktemp("dkim")
    infos = [
        generate_dkim_key(keys_dir, "shop.example", "r2026"),
        generate_dkim_key(keys_dir, "ed.example", "e2026", algorithm="ed25519"),
        generate_dkim_key(keys_dir, "dual.example", "r2026"),
        generate_dkim_key(keys_dir, "dual.example", "e2026", algorithm="ed25519"),
    ]
    return keys_dir, infos


@pytest.fixture(scope="module")
def signers(keys: tuple[Path, list[DkimKeyInfo]]) -> dict[str, DkimSigner]:
    return load_signers(keys[0])


@pytest.fixture(scope="module")
def dns(keys: tuple[Path, list[DkimKeyInfo]]) -> Callable[..., bytes | None]:
    """A resolver that answers with the TXT records we were told to publish."""
    records = {info.dns_name: info.dns_value.encode() for info in keys[1]}

    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name.decode().rstrip("."))

    return txt


def from_domain(message: bytes, domain: str) -> bytes:
    return message.replace(b"@shop.example>\r\nTo", f"@{domain}>\r\nTo".encode(), 1)


def verifies(message: bytes, dns: Callable[..., bytes | None], index: int = 0) -> bool:
    """What a receiver concludes from the signature at `index` (dkim.verify does index 0)."""
    try:
        return bool(dkim.DKIM(message).verify(idx=index, dnsfunc=dns))
    except dkim.DKIMException:
        return False


def signature_headers(signed: bytes) -> list[bytes]:
    head = signed.split(b"\r\n\r\n", 1)[0]
    return re.findall(rb"DKIM-Signature:.*?\r\n(?! )", head + b"\r\n", re.DOTALL)


def tag(header: bytes, name: str) -> str:
    unfolded = re.sub(rb"\s+", b"", header).decode()
    match = re.search(rf"[;:]{name}=([^;]*)", unfolded)
    assert match is not None
    return match.group(1)


def sign_twice_in_one_second(sign_a: Callable[[], bytes], sign_b: Callable[[], bytes]) -> tuple:
    """Two signings whose every signature says the same second (t= is in seconds)."""

    def seconds(signed: bytes) -> list[str]:
        return [tag(header, "t") for header in signature_headers(signed)]

    for _ in range(5):
        first, second = sign_a(), sign_b()
        if len(set(seconds(first) + seconds(second))) == 1:
            return first, second
    raise AssertionError("could not sign twice within one second")


def test_rsa_signature_verifies(signers, dns) -> None:
    signed = signers["shop.example"].sign(MESSAGE)

    assert verifies(signed, dns)


def test_ed25519_signature_verifies(signers, dns) -> None:
    signed = signers["ed.example"].sign(from_domain(MESSAGE, "ed.example"))

    assert verifies(signed, dns)


def test_ed25519_signature_says_ed25519_sha256(signers) -> None:
    signed = signers["ed.example"].sign(from_domain(MESSAGE, "ed.example"))

    assert tag(signature_headers(signed)[0], "a") == "ed25519-sha256"


def test_dual_signed_message_has_an_rsa_then_an_ed25519_signature(signers) -> None:
    signed = signers["dual.example"].sign(from_domain(MESSAGE, "dual.example"))

    assert [tag(h, "a") for h in signature_headers(signed)] == ["rsa-sha256", "ed25519-sha256"]


def test_each_signature_of_a_dual_signed_message_verifies(signers, dns) -> None:
    signed = signers["dual.example"].sign(from_domain(MESSAGE, "dual.example"))

    assert verifies(signed, dns, 0) and verifies(signed, dns, 1)


def test_signature_is_relaxed_relaxed(signers) -> None:
    signed = signers["shop.example"].sign(MESSAGE)

    assert tag(signature_headers(signed)[0], "c") == "relaxed/relaxed"


def test_signed_headers_are_those_present_with_from_signed_twice(signers) -> None:
    signed = signers["shop.example"].sign(MESSAGE)

    assert tag(signature_headers(signed)[0], "h").split(":") == [
        "from",
        "subject",
        "date",
        "to",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "feedback-id",
        "from",
    ]


def test_signing_leaves_the_message_itself_unchanged(signers) -> None:
    signed = signers["dual.example"].sign(MESSAGE)

    assert signed.endswith(MESSAGE)


def test_changed_list_unsubscribe_post_fails_verification(signers, dns) -> None:
    signed = signers["shop.example"].sign(MESSAGE)

    tampered = signed.replace(b"List-Unsubscribe=One-Click", b"List-Unsubscribe=Two-Clicks")

    assert not verifies(tampered, dns)


def test_second_from_added_after_signing_fails_verification(signers, dns) -> None:
    signed = signers["shop.example"].sign(MESSAGE)

    tampered = signed.replace(b"To: ", b"From: Bank <security@bank.example>\r\nTo: ", 1)

    assert not verifies(tampered, dns)


def test_changed_body_fails_verification(signers, dns) -> None:
    signed = signers["ed.example"].sign(from_domain(MESSAGE, "ed.example"))

    assert not verifies(signed.replace(b"20% off", b"90% off"), dns)


def test_unsigned_header_added_after_signing_still_verifies(signers, dns) -> None:
    signed = signers["shop.example"].sign(MESSAGE)

    relayed = b"Received: from relay.example by mx.example\r\n" + signed

    assert verifies(relayed, dns)


def test_message_without_from_is_refused(signers) -> None:
    with pytest.raises(DkimError, match="no From"):
        signers["shop.example"].sign(MESSAGE.replace(b"From:", b"X-From:"))


def test_fast_rsa_path_gives_the_bytes_of_dkimpy_as_shipped(signers, keys) -> None:
    signer = signers["shop.example"]
    pem = (keys[0] / "shop.example" / "r2026.pem").read_bytes()
    h = [name.encode() for name in tag(signature_headers(signer.sign(MESSAGE))[0], "h").split(":")]

    def dkimpy_as_shipped() -> bytes:
        with without_fast_paths():
            header = dkim.sign(
                MESSAGE,
                b"r2026",
                b"shop.example",
                pem,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=h,
            )
        return header + MESSAGE

    fast, shipped = sign_twice_in_one_second(lambda: signer.sign(MESSAGE), dkimpy_as_shipped)

    assert fast == shipped


bodies = st.text(alphabet=" \t\r\nab=é.", max_size=120)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_fast_paths_give_the_bytes_of_dkimpy_as_shipped_for_any_body(signers, body) -> None:
    message = from_domain(MESSAGE, "dual.example").split(b"\r\n\r\n")[0]
    message += b"\r\n\r\n" + body.encode()
    signer = signers["dual.example"]

    def as_shipped() -> bytes:
        with without_fast_paths():
            return signer.sign(message)

    fast, shipped = sign_twice_in_one_second(lambda: signer.sign(message), as_shipped)

    assert fast == shipped


def test_generated_key_file_is_readable_by_its_owner_only(keys) -> None:
    mode = (keys[0] / "shop.example" / "r2026.pem").stat().st_mode

    assert stat.S_IMODE(mode) == 0o600


def test_generated_rsa_key_gives_its_txt_record(keys) -> None:
    info = keys[1][0]

    assert (info.dns_name, info.dns_value[:26]) == (
        "r2026._domainkey.shop.example",
        "v=DKIM1; k=rsa; p=MIIBIjAN",  # a 2048-bit SubjectPublicKeyInfo
    )


def test_generated_ed25519_key_gives_a_32_byte_public_key(keys) -> None:
    value = keys[1][1].dns_value

    assert re.fullmatch(r"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=", value)


def test_loaded_signers_have_every_key_of_their_domain(signers, keys) -> None:
    loaded = {domain: [key.info for key in signer.keys] for domain, signer in signers.items()}

    assert loaded == {
        "dual.example": [keys[1][2], keys[1][3]],
        "ed.example": [keys[1][1]],
        "shop.example": [keys[1][0]],
    }


def test_idn_domain_is_stored_and_published_in_ascii(tmp_path) -> None:
    info = generate_dkim_key(tmp_path, "Пример.рф", "s1", algorithm="ed25519")

    assert (info.domain, info.dns_name) == (
        "xn--e1afmkfd.xn--p1ai",
        "s1._domainkey.xn--e1afmkfd.xn--p1ai",
    )


def test_existing_key_is_never_overwritten(keys) -> None:
    with pytest.raises(DkimError, match="already exists; choose a new selector"):
        generate_dkim_key(keys[0], "shop.example", "r2026")


def test_short_rsa_key_is_refused(tmp_path) -> None:
    with pytest.raises(DkimError, match="at least 1024 bits"):
        generate_dkim_key(tmp_path, "shop.example", "weak", bits=512)


def test_missing_key_directory_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(DkimError, match="does not exist"):
        load_signers(tmp_path / "nowhere")


def test_file_that_is_not_a_key_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "shop.example").mkdir()
    (tmp_path / "shop.example" / "s1.pem").write_text("not a key\n")

    with pytest.raises(DkimError, match=r"s1\.pem is not a PEM private key"):
        load_signers(tmp_path)


def test_encrypted_key_is_a_clear_error(tmp_path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    (tmp_path / "shop.example").mkdir()
    (tmp_path / "shop.example" / "s1.pem").write_bytes(pem)

    with pytest.raises(DkimError, match="is encrypted"):
        load_signers(tmp_path)


def test_unsupported_key_type_is_a_clear_error(tmp_path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "shop.example").mkdir()
    (tmp_path / "shop.example" / "s1.pem").write_bytes(pem)

    with pytest.raises(DkimError, match="unsupported EC key"):
        load_signers(tmp_path)
