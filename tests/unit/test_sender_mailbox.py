"""The bounce mailbox reader turns DSNs and complaints into reports; removes mails when told."""

from __future__ import annotations

import dataclasses
import mailbox
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from senders.mailbox import (
    MailboxError,
    MailboxReport,
    confirmed_handles,
    open_mailbox,
    parse_mailbox_url,
    parse_report,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "bounces"


def drop(maildir: Path, *names: str) -> dict[str, str]:
    """Deliver fixture mails into a Maildir as an MTA would; the Maildir key of each."""
    box = mailbox.Maildir(maildir, create=True)
    return {name: box.add((FIXTURES / f"{name}.eml").read_bytes()) for name in names}


def reports_of(reports: list[MailboxReport], handle: str) -> list[MailboxReport]:
    return [report for report in reports if report.source_handle == handle]


def fields(report: MailboxReport) -> dict[str, object]:
    """Every field but the arrival time and the handle, which depend on the delivery."""
    values = dataclasses.asdict(report)
    del values["arrived_at"], values["source_handle"]
    return values


@pytest.fixture
def bounces(tmp_path: Path) -> Path:
    return tmp_path / "bounces"


ALL_FIXTURES = (
    "postfix_user_unknown",
    "gmail_dsn",
    "outlook_ndr",
    "delayed_dsn",
    "exim_text_bounce",
    "arf_yahoo_abuse",
    "arf_mailru_abuse",
    "auto_reply",
    "malformed_multipart",
)


# -- what each mail becomes -------------------------------------------------------------


def read_one(bounces: Path, name: str) -> list[MailboxReport]:
    keys = drop(bounces, name)
    return reports_of(open_mailbox(f"maildir:{bounces}").read(), keys[name])


def test_postfix_dsn_is_a_hard_bounce_with_our_key(bounces: Path) -> None:
    [report] = read_one(bounces, "postfix_user_unknown")

    assert fields(report) == {
        "report_id": "<20261124101503.3F1A21C0F2B@mail.herald.example>",
        "kind": "bounce",
        "recipient": "ann@shop.example",
        "herald_key": "k_7f3c9a1e2b4d",
        "run": "run-42",
        "original_message_id": "<run-42.ann.7f3c@herald.example>",
        "status": "5.1.1",
        "diagnostic": "smtp; 550 5.1.1 <ann@shop.example>: Recipient address rejected: "
        "User unknown in virtual mailbox table",
        "bounce_type": "hard",
        "permanent": True,
        "feedback_type": None,
        "standard": True,
        "action": "failed",
        "remote_mta": "mx1.shop.example",
        "user_agent": None,
        "original_mail_from": None,
        "reason": "",
    }


def test_gmail_dsn_gives_one_report_per_failed_or_delayed_recipient(bounces: Path) -> None:
    reports = read_one(bounces, "gmail_dsn")

    assert [
        (r.report_id, r.kind, r.recipient, r.status, r.bounce_type, r.permanent) for r in reports
    ] == [
        (
            "<6565f0a3.050a0220.1f2b3.00a1.GMR@mx.google.com>#bob@gmail.com",
            "bounce",
            "bob@gmail.com",
            "5.1.1",
            "hard",
            True,
        ),
        (
            "<6565f0a3.050a0220.1f2b3.00a1.GMR@mx.google.com>#carol@gmail.com",
            "delayed",
            "carol@gmail.com",
            "4.2.2",
            "mailbox_full",
            False,
        ),
    ]


def test_gmail_dsn_reads_our_headers_from_rfc822_headers_part(bounces: Path) -> None:
    reports = read_one(bounces, "gmail_dsn")

    assert {(r.herald_key, r.run, r.original_message_id, r.remote_mta) for r in reports} == {
        (
            "k_91aa00bb11cc",
            "run-43",
            "<run-43.multi.91aa@herald.example>",
            "gmail-smtp-in.l.google.com",
        )
    }


def test_gmail_dsn_keeps_the_folded_diagnostic_on_one_line(bounces: Path) -> None:
    bounce = read_one(bounces, "gmail_dsn")[0]

    assert bounce.diagnostic.startswith(
        "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try "
        "550-5.1.1 double-checking"
    )


def test_outlook_ndr_is_a_hard_bounce(bounces: Path) -> None:
    [report] = read_one(bounces, "outlook_ndr")

    assert fields(report) == {
        "report_id": "<f3b2a1c0-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
        "@DM6PR11MB4657.namprd11.prod.outlook.com>",
        "kind": "bounce",
        "recipient": "dave@contoso.com",
        "herald_key": "k_c0ffee123456",
        "run": "run-44",
        "original_message_id": "<run-44.dave.c0ffee@herald.example>",
        "status": "5.1.10",
        "diagnostic": "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by "
        "SMTP address lookup",
        "bounce_type": "hard",
        "permanent": True,
        "feedback_type": None,
        "standard": True,
        "action": "failed",
        "remote_mta": None,
        "user_agent": None,
        "original_mail_from": None,
        "reason": "",
    }


def test_delayed_dsn_is_a_temporary_network_problem(bounces: Path) -> None:
    [report] = read_one(bounces, "delayed_dsn")

    assert fields(report) == {
        "report_id": "<20261124141507.8C2D11C0F3A@mail.herald.example>",
        "kind": "delayed",
        "recipient": "erin@slow.example",
        "herald_key": "k_5a5a0f0f0f0f",
        "run": "run-42",
        "original_message_id": "<run-42.erin.5a5a@herald.example>",
        "status": "4.4.7",
        "diagnostic": "X-Postfix; connect to mx.slow.example[198.51.100.7]:25: "
        "Connection timed out",
        "bounce_type": "network",
        "permanent": False,
        "feedback_type": None,
        "standard": True,
        "action": "delayed",
        "remote_mta": None,
        "user_agent": None,
        "original_mail_from": None,
        "reason": "",
    }


def test_exim_text_bounce_is_read_by_the_fallback(bounces: Path) -> None:
    [report] = read_one(bounces, "exim_text_bounce")

    assert fields(report) == {
        "report_id": "<E1t5XyZ-0003Ab-2Q@relay.oldhost.example>",
        "kind": "bounce",
        "recipient": "frank@oldshop.example",
        "herald_key": "k_beef00112233",
        "run": "run-41",
        "original_message_id": "<run-41.frank.beef@herald.example>",
        "status": "5.1.1",
        "diagnostic": "5.1.1 <frank@oldshop.example>: Recipient address rejected: User unknown",
        "bounce_type": "hard",
        "permanent": True,
        "feedback_type": None,
        "standard": False,
        "action": "failed",
        "remote_mta": None,
        "user_agent": None,
        "original_mail_from": None,
        "reason": "non-standard bounce read by flufl.bounce",
    }


def test_yahoo_arf_is_a_complaint_for_the_original_to(bounces: Path) -> None:
    [report] = read_one(bounces, "arf_yahoo_abuse")

    assert fields(report) == {
        "report_id": "<1732565489.98765@arf.mail.yahoo.com>",
        "kind": "complaint",
        "recipient": "grace@yahoo.com",
        "herald_key": "k_d00d44556677",
        "run": "run-42",
        "original_message_id": "<run-42.grace.d00d@herald.example>",
        "status": None,
        "diagnostic": "",
        "bounce_type": None,
        "permanent": False,
        "feedback_type": "abuse",
        "standard": True,
        "action": None,
        "remote_mta": None,
        "user_agent": "Yahoo!-Mail-Feedback/2.0",
        "original_mail_from": "bounces@herald.example",
        "reason": "",
    }


def test_mailru_arf_takes_the_recipient_from_original_rcpt_to(bounces: Path) -> None:
    [report] = read_one(bounces, "arf_mailru_abuse")

    assert (
        report.kind,
        report.recipient,
        report.herald_key,
        report.feedback_type,
        report.user_agent,
    ) == (
        "complaint",
        "heidi@mail.ru",
        "k_abba99887766",
        "abuse",
        "Mail.Ru FBL/1.0",
    )


def test_an_auto_reply_is_unknown_with_a_reason(bounces: Path) -> None:
    [report] = read_one(bounces, "auto_reply")

    assert (report.kind, report.recipient, report.reason) == (
        "unknown",
        None,
        "auto-reply, not a delivery report",
    )


def test_a_malformed_multipart_is_unknown_with_a_reason(bounces: Path) -> None:
    [report] = read_one(bounces, "malformed_multipart")

    assert (report.kind, report.reason) == (
        "unknown",
        "malformed or unsupported multipart/report (report-type delivery-status)",
    )


def test_a_mail_without_message_id_is_identified_by_its_hash(bounces: Path) -> None:
    [report] = read_one(bounces, "malformed_multipart")

    assert report.report_id.startswith("sha256:") and len(report.report_id) == 7 + 64


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"Content-Type: multipart/report\n\n--x\n",
        b"Subject: hi\n\nhello",
    ],
)
def test_garbage_is_an_unknown_report_never_an_exception(raw: bytes) -> None:
    [report] = parse_report(raw, handle="h1")

    assert report.kind == "unknown" and report.reason


def test_a_dsn_without_the_original_says_so() -> None:
    raw = (FIXTURES / "delayed_dsn.eml").read_bytes()
    without_original = raw.split(b"Content-Description: Undelivered Message Headers")[0]

    [report] = parse_report(without_original, handle="h1")

    assert (report.kind, report.herald_key, report.reason) == (
        "delayed",
        None,
        "the report does not return the original headers",
    )


def test_arrival_is_the_maildir_delivery_time(bounces: Path) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)

    [report] = read_one(bounces, "postfix_user_unknown")

    assert report.arrived_at is not None and report.arrived_at >= before


def test_arrival_falls_back_to_the_date_header() -> None:
    [report] = parse_report((FIXTURES / "delayed_dsn.eml").read_bytes(), handle="h1")

    assert report.arrived_at == datetime(2026, 11, 24, 14, 15, 7, tzinfo=UTC)


# -- two-step removal -------------------------------------------------------------------


def test_reading_removes_nothing(bounces: Path) -> None:
    drop(bounces, *ALL_FIXTURES)

    open_mailbox(f"maildir:{bounces}").read()

    assert len(mailbox.Maildir(bounces)) == len(ALL_FIXTURES)


def test_done_removes_recorded_mails_and_keeps_unknown_ones(bounces: Path) -> None:
    keys = drop(bounces, *ALL_FIXTURES)
    reader = open_mailbox(f"maildir:{bounces}")

    reader.done(confirmed_handles(reader.read()))

    assert set(mailbox.Maildir(bounces).keys()) == {keys["auto_reply"], keys["malformed_multipart"]}


def test_done_moves_processed_mails_to_the_processed_folder(bounces: Path) -> None:
    drop(bounces, "postfix_user_unknown", "outlook_ndr")
    reader = open_mailbox(f"maildir:{bounces}")

    reader.done(confirmed_handles(reader.read()))

    assert len(mailbox.Maildir(bounces).get_folder("processed")) == 2


def test_done_deletes_when_processed_mails_are_not_kept(bounces: Path) -> None:
    drop(bounces, "postfix_user_unknown")
    reader = open_mailbox(f"maildir:{bounces}", keep_processed=False)

    reader.done(confirmed_handles(reader.read()))

    assert mailbox.Maildir(bounces).list_folders() == [] and len(mailbox.Maildir(bounces)) == 0


def test_unknown_mails_are_removed_when_the_caller_says_so(bounces: Path) -> None:
    drop(bounces, "auto_reply", "postfix_user_unknown")
    reader = open_mailbox(f"maildir:{bounces}")

    reader.done(confirmed_handles(reader.read(), include_unknown=True))

    assert len(mailbox.Maildir(bounces)) == 0


def test_a_crash_between_read_and_done_keeps_every_mail(bounces: Path) -> None:
    drop(bounces, *ALL_FIXTURES)
    first = open_mailbox(f"maildir:{bounces}").read()
    # the process dies here: done() is never called

    again = open_mailbox(f"maildir:{bounces}").read()

    assert [r.report_id for r in again] == [r.report_id for r in first]


def test_done_with_a_handle_already_removed_is_harmless(bounces: Path) -> None:
    keys = drop(bounces, "postfix_user_unknown")
    reader = open_mailbox(f"maildir:{bounces}")
    reader.done([keys["postfix_user_unknown"]])

    assert reader.done([keys["postfix_user_unknown"], "no-such-key"]) == 0


def test_read_honours_the_limit(bounces: Path) -> None:
    drop(bounces, "postfix_user_unknown", "outlook_ndr", "delayed_dsn")

    reports = open_mailbox(f"maildir:{bounces}").read(limit=2)

    assert len({r.source_handle for r in reports}) == 2


def test_a_missing_maildir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MailboxError, match="no such directory"):
        open_mailbox(f"maildir:{tmp_path / 'nowhere'}")


# -- URLs and remote mailboxes ----------------------------------------------------------


def test_imaps_url_defaults_port_and_folder() -> None:
    source = parse_mailbox_url("imaps://bounces%40herald.example:s%3Acret@mail.herald.example")

    assert (
        source.scheme,
        source.host,
        source.port,
        source.user,
        source.password,
        source.folder,
    ) == (
        "imaps",
        "mail.herald.example",
        993,
        "bounces@herald.example",
        "s:cret",
        "INBOX",
    )


@pytest.mark.parametrize(
    ("url", "port", "folder"),
    [
        ("imap://u:p@mail.example/Bounces", 143, "Bounces"),
        ("imap://u:p@mail.example:1143/INBOX/FBL", 1143, "INBOX/FBL"),
        ("pop3://u:p@mail.example", 110, "INBOX"),
        ("pop3s://u:p@mail.example:1995", 1995, "INBOX"),
    ],
)
def test_remote_urls_are_parsed(url: str, port: int, folder: str) -> None:
    source = parse_mailbox_url(url)

    assert (source.port, source.folder) == (port, folder)


def test_the_password_never_shows_in_repr() -> None:
    source = parse_mailbox_url("imaps://bounces:hunter2@mail.herald.example")

    assert "hunter2" not in repr(source) and "hunter2" not in source.address


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://u:p@mail.example", "not one of"),
        ("imaps://mail.example", "has no user"),
        ("imaps:///INBOX", "has no host"),
        ("maildir:", "needs a path"),
        ("pop3://u:p@mail.example:99999", "bad port"),
    ],
)
def test_bad_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(MailboxError, match=message):
        parse_mailbox_url(url)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("scheme", ["imap", "imaps", "pop3", "pop3s"])
def test_a_closed_port_is_a_mailbox_error_naming_host_and_port(
    scheme: str, closed_port: int
) -> None:
    reader = open_mailbox(f"{scheme}://bounces:hunter2@127.0.0.1:{closed_port}", timeout=2)

    with pytest.raises(
        MailboxError, match=f"cannot connect to {scheme}://127.0.0.1:{closed_port}"
    ) as caught:
        reader.read()

    assert "hunter2" not in str(caught.value)


# -- POP3 against a small in-process server --------------------------------------------


class Pop3Drop(socketserver.StreamRequestHandler):
    """Just enough POP3 (RFC 1939) for the reader: USER/PASS, UIDL, RETR, DELE, RSET, QUIT."""

    mails: dict[str, bytes]
    password = "hunter2"

    def handle(self) -> None:
        order = list(self.mails)
        deleted: set[int] = set()
        self.reply("+OK POP3 ready")
        while line := self.rfile.readline():
            command, _, argument = line.decode().strip().partition(" ")
            command = command.upper()
            if command == "USER":
                self.reply("+OK")
            elif command == "PASS":
                self.reply(
                    "+OK logged in" if argument == self.password else "-ERR [AUTH] invalid login"
                )
            elif command == "UIDL":
                listing = [f"{n} {uid}" for n, uid in enumerate(order, 1) if n not in deleted]
                self.reply("+OK", *listing, ".")
            elif command == "RETR":
                lines = self.mails[order[int(argument) - 1]].decode().splitlines()
                stuffed = ["." + text if text.startswith(".") else text for text in lines]
                self.reply("+OK", *stuffed, ".")
            elif command == "DELE":
                deleted.add(int(argument))
                self.reply("+OK")
            elif command == "RSET":
                deleted.clear()
                self.reply("+OK")
            elif command == "QUIT":
                for number in deleted:
                    self.mails.pop(order[number - 1])
                self.reply("+OK bye")
                return
            else:
                self.reply("-ERR unknown command")

    def reply(self, *lines: str) -> None:
        self.wfile.write("".join(f"{text}\r\n" for text in lines).encode())


@pytest.fixture
def pop3_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    mails = {
        "uid-postfix": (FIXTURES / "postfix_user_unknown.eml").read_bytes(),
        "uid-auto": (FIXTURES / "auto_reply.eml").read_bytes(),
    }
    handler = type("Handler", (Pop3Drop,), {"mails": mails})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", mails
    server.shutdown()
    server.server_close()


def test_pop3_reads_reports_with_uidl_handles(pop3_server: tuple[str, dict[str, bytes]]) -> None:
    address, _ = pop3_server

    reports = open_mailbox(f"pop3://bounces:hunter2@{address}", timeout=5).read()

    assert [(r.source_handle, r.kind, r.herald_key) for r in reports] == [
        ("uid-postfix", "bounce", "k_7f3c9a1e2b4d"),
        ("uid-auto", "unknown", None),
    ]


def test_pop3_read_removes_nothing_and_done_removes_confirmed(
    pop3_server: tuple[str, dict[str, bytes]],
) -> None:
    address, mails = pop3_server
    reader = open_mailbox(f"pop3://bounces:hunter2@{address}", timeout=5)

    reader.done(confirmed_handles(reader.read()))

    assert list(mails) == ["uid-auto"]


def test_pop3_refused_login_names_the_user_not_the_password(
    pop3_server: tuple[str, dict[str, bytes]],
) -> None:
    address, _ = pop3_server
    reader = open_mailbox(f"pop3://bounces:wrong-secret@{address}", timeout=5)

    with pytest.raises(
        MailboxError, match=f"login to pop3://{address} as bounces failed"
    ) as caught:
        reader.read()

    assert "wrong-secret" not in str(caught.value)


# -- IMAP against a small in-process server ---------------------------------------------


class ImapDrop(socketserver.StreamRequestHandler):
    """Just enough IMAP4rev1 for the reader: LOGIN, SELECT, UID SEARCH/FETCH/STORE/EXPUNGE."""

    mails: dict[int, bytes]
    deleted: set[int]
    password = "hunter2"

    def handle(self) -> None:
        self.send("* OK IMAP4rev1 ready")
        while line := self.rfile.readline():
            tag, command, *args = line.decode().strip().split(" ")
            command = command.upper()
            if command == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1 UIDPLUS", f"{tag} OK done")
            elif command == "LOGIN":
                ok = args[1].strip('"') == self.password
                self.send(f"{tag} OK logged in" if ok else f"{tag} NO [AUTHENTICATIONFAILED] nope")
            elif command == "SELECT":
                self.send(f"* {len(self.mails)} EXISTS", "* OK [UIDVALIDITY 7] ok")
                self.send(f"{tag} OK [READ-WRITE] selected")
            elif command == "UID":
                self.uid_command(tag, args[0].upper(), args[1:])
            elif command == "LOGOUT":
                self.send("* BYE", f"{tag} OK bye")
                return
            else:
                self.send(f"{tag} BAD unknown")

    def uid_command(self, tag: str, command: str, args: list[str]) -> None:
        if command == "SEARCH":
            uids = " ".join(str(uid) for uid in self.mails if uid not in self.deleted)
            self.send(f"* SEARCH {uids}".rstrip(), f"{tag} OK done")
        elif command == "FETCH":
            uid = int(args[0])
            raw = self.mails[uid]
            head = f'* {uid} FETCH (UID {uid} INTERNALDATE "24-Nov-2026 12:15:03 +0200" BODY[] '
            self.wfile.write(f"{head}{{{len(raw)}}}\r\n".encode() + raw + b")\r\n")
            self.send(f"{tag} OK done")
        elif command == "STORE":
            self.deleted.update(int(uid) for uid in args[0].split(","))
            self.send(f"{tag} OK done")
        elif command == "EXPUNGE":
            for uid in [int(uid) for uid in args[0].split(",")]:
                if uid in self.deleted:
                    del self.mails[uid]
            self.send(f"{tag} OK done")

    def send(self, *lines: str) -> None:
        self.wfile.write("".join(f"{text}\r\n" for text in lines).encode())


@pytest.fixture
def imap_server() -> Iterator[tuple[str, dict[int, bytes]]]:
    mails = {
        1: (FIXTURES / "outlook_ndr.eml").read_bytes(),
        2: (FIXTURES / "auto_reply.eml").read_bytes(),
    }
    handler = type("Handler", (ImapDrop,), {"mails": mails, "deleted": set()})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", mails
    server.shutdown()
    server.server_close()


def test_imap_reads_reports_with_uidvalidity_handles(
    imap_server: tuple[str, dict[int, bytes]],
) -> None:
    address, _ = imap_server

    reports = open_mailbox(f"imap://bounces:hunter2@{address}/INBOX", timeout=5).read()

    assert [(r.source_handle, r.kind, r.herald_key, r.arrived_at) for r in reports] == [
        ("7:1", "bounce", "k_c0ffee123456", datetime(2026, 11, 24, 10, 15, 3, tzinfo=UTC)),
        ("7:2", "unknown", None, datetime(2026, 11, 24, 10, 15, 3, tzinfo=UTC)),
    ]


def test_imap_done_expunges_only_confirmed_mails(imap_server: tuple[str, dict[int, bytes]]) -> None:
    address, mails = imap_server
    reader = open_mailbox(f"imap://bounces:hunter2@{address}", timeout=5)

    reader.done(confirmed_handles(reader.read()))

    assert list(mails) == [2]


def test_imap_ignores_handles_of_another_uidvalidity(
    imap_server: tuple[str, dict[int, bytes]],
) -> None:
    address, mails = imap_server

    open_mailbox(f"imap://bounces:hunter2@{address}", timeout=5).done(["6:1"])

    assert list(mails) == [1, 2]


def test_imap_refused_login_names_the_user_not_the_password(
    imap_server: tuple[str, dict[int, bytes]],
) -> None:
    address, _ = imap_server
    reader = open_mailbox(f"imap://bounces:wrong-secret@{address}", timeout=5)

    with pytest.raises(
        MailboxError, match=f"login to imap://{address} as bounces failed"
    ) as caught:
        reader.read()

    assert "wrong-secret" not in str(caught.value)
