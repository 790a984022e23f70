"""Asynchronous bounces (RFC 3464 DSNs) and complaints (RFC 5965 ARF) from a bounce mailbox.

    reader = open_mailbox("imaps://bounces:secret@mail.herald.example/INBOX")
    reports = reader.read(limit=200)                 # parsed; nothing removed yet
    record(reports)                                  # the caller's store, dedup by report_id
    reader.done(confirmed_handles(reports))          # only now are those mails removed

Sources, by URL:
- `maildir:/var/mail/bounces` a local Maildir (the local mail drop; tests use it). A
  processed mail is moved to the sub-maildir `.processed` (kept for inspection; prune it
  with cron), or deleted when the reader is opened with `keep_processed=False`.
- `imap://user:pass@host:143/INBOX`, `imaps://…:993/…` (imaplib). Mails are read with
  BODY.PEEK[] (not marked seen); processed ones are flagged \\Deleted and expunged (UID
  EXPUNGE when the server has UIDPLUS). A handle is `<UIDVALIDITY>:<UID>`; a handle from
  another UIDVALIDITY is ignored, so the mail is read again later rather than lost.
  `imap://` upgrades with STARTTLS when the server offers it. Without UIDPLUS the plain
  EXPUNGE also removes other mails flagged \\Deleted in that folder.
- `pop3://user:pass@host:110`, `pop3s://…:995` (poplib). A handle is the mail's UIDL;
  processed mails are DELE'd and the deletion is committed by QUIT.

Removal is two-step on purpose: `read()` never removes anything, `done(handles)` removes
exactly the mails the caller has recorded. A process that dies in between loses nothing;
it reads the same mails again next time, and the consumer must treat a report it has
already recorded (same `report_id`) as done. `report_id` is the mail's Message-ID (or
`sha256:<hex>` of its bytes when it has none), with `#<recipient>` appended when one DSN
reports several recipients.

Each operation opens its own connection and closes it; a connection failure or a refused
login is a MailboxError naming `scheme://host:port` and the user, never the password.

What a mail becomes (`MailboxReport.kind`):
- `bounce` / `delayed`: a DSN's recipient with Action failed / delayed (delivered, relayed
  and expanded recipients are skipped); a non-standard text bounce found by
  flufl.bounce is a `bounce` (or `delayed` for a temporary failure) with `standard=False`.
- `complaint`: an ARF feedback report (any Feedback-Type: abuse, fraud, not-spam, …; the
  consumer decides what each means).
- `unknown`: anything else (auto-replies, vacation notices, people answering, malformed
  mails), with a `reason`. `confirmed_handles()` leaves them in the mailbox unless asked.
Parsing never raises for a malformed mail.
"""

from __future__ import annotations

import contextlib
import email
import email.parser
import email.utils
import hashlib
import imaplib
import mailbox as stdlib_mailbox
import poplib
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import Message
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

from flufl.bounce import all_failures

from herald.errors import HeraldError
from senders.bounces import classify_dsn_status, classify_smtp_reply
from senders.channel import one_line

ReportKind = Literal["bounce", "delayed", "complaint", "unknown"]

DEFAULT_PORTS = {"imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995}
HERALD_KEY_HEADER = "X-Herald-Key"
HERALD_RUN_HEADER = "X-Herald-Run"


class MailboxError(HeraldError):
    """The bounce mailbox cannot be reached, logged into or read."""


@dataclass(frozen=True, slots=True)
class MailboxSource:
    """A parsed mailbox URL; the password never shows in repr or messages."""

    scheme: str
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = field(default="", repr=False)
    folder: str = "INBOX"
    path: str = ""

    @property
    def address(self) -> str:
        """Where the mailbox is, safe to print: `imaps://host:993` or `maildir:/path`."""
        if self.scheme == "maildir":
            return f"maildir:{self.path}"
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class MailboxReport:
    """One recipient's bounce, delay or complaint found in one mail of the bounce mailbox.

    `herald_key` and `run` come from our own headers (X-Herald-Key, X-Herald-Run) in the
    returned original; `recipient` is the DSN's Final-Recipient, the ARF's Original-Rcpt-To
    (or the original's To), or the address flufl.bounce found. `source_handle` is what
    `done()` takes to remove the mail; `reason` explains an `unknown` or a missing field.
    `permanent` is True when the failure is permanent for the address by its status class
    (so never for `delayed`, `mailbox_full` or `throttled`); only `bounce_type` "hard"
    suppresses (senders.bounces.SUPPRESSING_TYPES). `arrived_at` is when the report
    reached the mailbox (Maildir delivery time, IMAP INTERNALDATE), else its Date header.
    `standard` is False for text bounces read by flufl.bounce and for unknown mails.
    """

    report_id: str
    kind: ReportKind
    recipient: str | None
    herald_key: str | None
    run: str | None
    original_message_id: str | None
    status: str | None
    diagnostic: str
    bounce_type: str | None
    permanent: bool
    feedback_type: str | None
    arrived_at: datetime | None
    source_handle: str
    standard: bool = True
    action: str | None = None
    remote_mta: str | None = None
    user_agent: str | None = None
    original_mail_from: str | None = None
    reason: str = ""


class MailboxReader(Protocol):
    """A bounce mailbox: read parsed reports, then remove the mails the caller recorded."""

    source: MailboxSource

    def read(self, limit: int = 500) -> list[MailboxReport]: ...

    def done(self, handles: Iterable[str]) -> int: ...


def parse_mailbox_url(url: str) -> MailboxSource:
    """`maildir:/path`, `imap[s]://user:pass@host[:port][/folder]`, `pop3[s]://user:pass@host[:port]`."""
    if url.startswith("maildir:"):
        path = url[len("maildir:") :]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise MailboxError("mailbox URL maildir: needs a path, as maildir:/var/mail/bounces")
        return MailboxSource(scheme="maildir", path=path)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise MailboxError(
            f"mailbox URL scheme {scheme or '(none)'!r} is not one of maildir, imap, imaps, "
            "pop3, pop3s"
        )
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise MailboxError(f"mailbox URL {scheme}://{parts.hostname}: bad port") from None
    if not parts.hostname:
        raise MailboxError(f"mailbox URL {scheme}:// has no host")
    if not parts.username:
        raise MailboxError(f"mailbox URL {scheme}://{parts.hostname}:{port} has no user")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return MailboxSource(
        scheme=scheme,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        folder=folder,
    )


def open_mailbox(url: str, *, timeout: float = 30.0, keep_processed: bool = True) -> MailboxReader:
    """The reader for a mailbox URL (see the module docstring)."""
    source = parse_mailbox_url(url)
    if source.scheme == "maildir":
        return MaildirReader(source, keep_processed=keep_processed)
    if source.scheme.startswith("imap"):
        return ImapReader(source, timeout=timeout)
    return Pop3Reader(source, timeout=timeout)


def confirmed_handles(
    reports: Iterable[MailboxReport], *, include_unknown: bool = False
) -> list[str]:
    """The handles to pass to `done()` once `reports` are recorded.

    A mail with an `unknown` report stays in the mailbox for a person to look at unless
    `include_unknown` is set.
    """
    handles: dict[str, bool] = {}
    for report in reports:
        keep = report.kind == "unknown" and not include_unknown
        handles[report.source_handle] = handles.get(report.source_handle, True) and not keep
    return [handle for handle, removable in handles.items() if removable]


# -- sources ---------------------------------------------------------------------------


class MaildirReader:
    """A local Maildir; processed mails go to `.processed` (or are deleted)."""

    def __init__(self, source: MailboxSource, *, keep_processed: bool = True) -> None:
        self.source = source
        self.keep_processed = keep_processed
        path = Path(source.path)
        if not path.is_dir():
            raise MailboxError(f"{source.address}: no such directory")
        self._maildir = stdlib_mailbox.Maildir(path, create=False)

    def read(self, limit: int = 500) -> list[MailboxReport]:
        reports: list[MailboxReport] = []
        for key in sorted(self._maildir.iterkeys())[:limit]:
            try:
                raw = self._maildir.get_bytes(key)
                delivered = datetime.fromtimestamp(self._maildir.get_message(key).get_date(), UTC)
            except (KeyError, FileNotFoundError):
                continue  # removed by another reader since the listing
            reports.extend(parse_report(raw, handle=key, arrived_at=delivered))
        return reports

    def done(self, handles: Iterable[str]) -> int:
        processed = self._maildir.add_folder("processed") if self.keep_processed else None
        removed = 0
        for key in dict.fromkeys(handles):
            try:
                if processed is not None:
                    processed.add(self._maildir.get_message(key))
                self._maildir.discard(key)
            except (KeyError, FileNotFoundError):
                continue
            removed += 1
        return removed


class ImapReader:
    """An IMAP folder, one connection per operation."""

    def __init__(self, source: MailboxSource, *, timeout: float = 30.0) -> None:
        self.source = source
        self.timeout = timeout

    def read(self, limit: int = 500) -> list[MailboxReport]:
        reports: list[MailboxReport] = []
        with self._session() as (imap, validity):
            uids = _imap_ok(self.source, imap.uid("SEARCH", "UNDELETED"), "SEARCH")
            for uid in b" ".join(uids).split()[:limit]:
                data = _imap_ok(
                    self.source,
                    imap.uid("FETCH", uid.decode(), "(INTERNALDATE BODY.PEEK[])"),
                    "FETCH",
                )
                raw, arrived = _imap_message(data)
                if raw is None:
                    continue
                handle = f"{validity}:{uid.decode()}"
                reports.extend(parse_report(raw, handle=handle, arrived_at=arrived))
        return reports

    def done(self, handles: Iterable[str]) -> int:
        with self._session() as (imap, validity):
            uids = [
                handle.split(":", 1)[1]
                for handle in dict.fromkeys(handles)
                if handle.split(":", 1)[0] == validity
            ]
            if not uids:
                return 0
            uid_set = ",".join(uids)
            _imap_ok(
                self.source, imap.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)"), "STORE"
            )
            if "UIDPLUS" in imap.capabilities:
                _imap_ok(self.source, imap.uid("EXPUNGE", uid_set), "UID EXPUNGE")
            else:
                _imap_ok(self.source, imap.expunge(), "EXPUNGE")
            return len(uids)

    def _session(self) -> _ImapSession:
        return _ImapSession(self.source, self.timeout)


class _ImapSession:
    def __init__(self, source: MailboxSource, timeout: float) -> None:
        self.source = source
        self.timeout = timeout
        self.imap: imaplib.IMAP4 | None = None

    def __enter__(self) -> tuple[imaplib.IMAP4, str]:
        source = self.source
        try:
            if source.scheme == "imaps":
                context = ssl.create_default_context()
                self.imap = imaplib.IMAP4_SSL(
                    source.host, source.port, ssl_context=context, timeout=self.timeout
                )
            else:
                self.imap = imaplib.IMAP4(source.host, source.port, timeout=self.timeout)
        except (OSError, imaplib.IMAP4.error) as error:
            raise MailboxError(f"cannot connect to {source.address}: {_why(error)}") from None
        try:
            if source.scheme == "imap" and "STARTTLS" in self.imap.capabilities:
                self.imap.starttls(ssl.create_default_context())
            self.imap.login(source.user, source.password)
        except (OSError, imaplib.IMAP4.error) as error:
            self._close()
            raise MailboxError(
                f"login to {source.address} as {source.user} failed: {_why(error)}"
            ) from None
        try:
            _imap_ok(source, self.imap.select(_imap_quote(source.folder)), "SELECT")
            status = self.imap.response("UIDVALIDITY")[1]
            validity = (status[0] or b"0").decode() if status else "0"
        except (OSError, imaplib.IMAP4.error) as error:
            self._close()
            raise MailboxError(
                f"{source.address}: cannot open folder {source.folder}: {_why(error)}"
            ) from None
        return self.imap, validity

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        self._close()
        if isinstance(error, OSError | imaplib.IMAP4.error):
            raise MailboxError(f"{self.source.address}: connection failed: {_why(error)}")

    def _close(self) -> None:
        if self.imap is None:
            return
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.imap.logout()
        self.imap = None


def _imap_quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_ok(source: MailboxSource, answer: tuple[str, list[Any]], command: str) -> list[Any]:
    kind, data = answer
    if kind != "OK":
        detail = b" ".join(part for part in data if isinstance(part, bytes)).decode(
            errors="replace"
        )
        raise MailboxError(f"{source.address}: {command} refused: {one_line(detail, 200)}")
    return [part for part in data if part is not None]


def _imap_message(data: list[Any]) -> tuple[bytes | None, datetime | None]:
    for part in data:
        if isinstance(part, tuple) and len(part) == 2:
            envelope, raw = part
            arrived = None
            match = re.search(rb'INTERNALDATE "([^"]+)"', envelope)
            if match:
                with contextlib.suppress(ValueError):
                    stamp = match.group(1).decode().strip()
                    arrived = datetime.strptime(stamp, "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
            return raw, arrived
    return None, None


class Pop3Reader:
    """A POP3 mailbox, one connection per operation; handles are UIDLs."""

    def __init__(self, source: MailboxSource, *, timeout: float = 30.0) -> None:
        self.source = source
        self.timeout = timeout

    def read(self, limit: int = 500) -> list[MailboxReport]:
        reports: list[MailboxReport] = []
        with _Pop3Session(self.source, self.timeout) as pop:
            for number, uid in list(_pop3_uids(self.source, pop).items())[:limit]:
                try:
                    lines = pop.retr(number)[1]
                except (OSError, poplib.error_proto) as error:
                    raise MailboxError(
                        f"{self.source.address}: RETR failed: {_why(error)}"
                    ) from None
                reports.extend(parse_report(b"\r\n".join(lines) + b"\r\n", handle=uid))
            pop.rset()  # nothing is deleted by reading
        return reports

    def done(self, handles: Iterable[str]) -> int:
        wanted = set(handles)
        removed = 0
        with _Pop3Session(self.source, self.timeout) as pop:
            for number, uid in _pop3_uids(self.source, pop).items():
                if uid in wanted:
                    try:
                        pop.dele(number)
                    except (OSError, poplib.error_proto) as error:
                        raise MailboxError(
                            f"{self.source.address}: DELE failed: {_why(error)}"
                        ) from None
                    removed += 1
        return removed  # committed by QUIT on leaving the session


class _Pop3Session:
    def __init__(self, source: MailboxSource, timeout: float) -> None:
        self.source = source
        self.timeout = timeout
        self.pop: poplib.POP3 | None = None

    def __enter__(self) -> poplib.POP3:
        source = self.source
        try:
            if source.scheme == "pop3s":
                self.pop = poplib.POP3_SSL(
                    source.host,
                    source.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                self.pop = poplib.POP3(source.host, source.port, timeout=self.timeout)
        except (OSError, poplib.error_proto) as error:
            raise MailboxError(f"cannot connect to {source.address}: {_why(error)}") from None
        try:
            self.pop.user(source.user)
            self.pop.pass_(source.password)
        except (OSError, poplib.error_proto) as error:
            self.pop.close()
            raise MailboxError(
                f"login to {source.address} as {source.user} failed: {_why(error)}"
            ) from None
        return self.pop

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        if self.pop is None:
            return
        if error is not None:
            self.pop.close()  # no QUIT: the server rolls back any DELE
            if isinstance(error, OSError | poplib.error_proto):
                raise MailboxError(f"{self.source.address}: connection failed: {_why(error)}")
            return
        try:
            self.pop.quit()  # commits DELE
        except (OSError, poplib.error_proto) as failure:
            self.pop.close()
            raise MailboxError(
                f"{self.source.address}: QUIT failed, removals not committed: {_why(failure)}"
            ) from None


def _pop3_uids(source: MailboxSource, pop: poplib.POP3) -> dict[int, str]:
    try:
        listing = pop.uidl()[1]
    except (OSError, poplib.error_proto) as error:
        raise MailboxError(
            f"{source.address}: UIDL failed (needed to remove safely): {_why(error)}"
        ) from None
    uids: dict[int, str] = {}
    for line in listing:
        number, _, uid = line.decode(errors="replace").partition(" ")
        uids[int(number)] = uid.strip()
    return uids


def _why(error: BaseException) -> str:
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    text = str(error) or type(error).__name__
    return one_line(text, 200)


# -- parsing ---------------------------------------------------------------------------

_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[ -]?(?:reply|response)|out of (?:the )?office|autoreply|"
    r"vacation|away from|абонент|автоответ|auto:)",
    re.IGNORECASE,
)


def parse_report(
    raw: bytes, *, handle: str, arrived_at: datetime | None = None
) -> list[MailboxReport]:
    """The reports one mail of the bounce mailbox holds; at least one, never an exception."""
    mail_id = _mail_id(raw, None)
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
        mail_id = _mail_id(raw, message)
        arrived = arrived_at or _date(message)
        return _reports(message, mail_id=mail_id, handle=handle, arrived_at=arrived)
    except Exception as error:  # a malformed mail is a report with a reason, not a crash
        return [
            _unknown(
                mail_id, handle, arrived_at, f"unparseable mail: {type(error).__name__}: {error}"
            )
        ]


def _reports(
    message: Message, *, mail_id: str, handle: str, arrived_at: datetime | None
) -> list[MailboxReport]:
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type") or "").lower()
        if report_type == "delivery-status":
            dsn = _dsn_reports(message, mail_id=mail_id, handle=handle, arrived_at=arrived_at)
            if dsn is not None:
                return dsn
        elif report_type == "feedback-report":
            arf = _arf_report(message, mail_id=mail_id, handle=handle, arrived_at=arrived_at)
            if arf is not None:
                return arf
    return _fallback_reports(message, mail_id=mail_id, handle=handle, arrived_at=arrived_at)


def _dsn_reports(
    message: Message, *, mail_id: str, handle: str, arrived_at: datetime | None
) -> list[MailboxReport] | None:
    blocks = _status_blocks(message, "message/delivery-status")
    if blocks is None:
        return None
    original = _original_headers(message)
    per_recipient = blocks[1:]
    recipients = [block for block in per_recipient if block.get("Final-Recipient")]
    if not recipients:
        return [_unknown(mail_id, handle, arrived_at, "delivery-status report names no recipient")]
    wanted = [block for block in recipients if _action(block) in ("failed", "delayed")]
    if not wanted:
        actions = ", ".join(sorted({_action(block) or "none" for block in recipients}))
        return [
            _unknown(mail_id, handle, arrived_at, f"delivery report with no failure ({actions})")
        ]
    reports = []
    for block in wanted:
        action = _action(block)
        recipient = _address_field(block.get("Final-Recipient")) or _address_field(
            block.get("Original-Recipient")
        )
        status_match = _STATUS.search(str(block.get("Status", "")))
        status = status_match.group(1) if status_match else None
        diagnostic = one_line(str(block.get("Diagnostic-Code", "")))
        bounce_type, permanent = classify_dsn_status(status or "", diagnostic)
        if action == "delayed":
            permanent = False
        report_id = mail_id if len(wanted) == 1 else f"{mail_id}#{recipient}"
        remote_mta = _address_field(block.get("Remote-MTA"))
        reports.append(
            MailboxReport(
                report_id=report_id,
                kind="bounce" if action == "failed" else "delayed",
                recipient=recipient,
                herald_key=original.get(HERALD_KEY_HEADER),
                run=original.get(HERALD_RUN_HEADER),
                original_message_id=original.get("Message-ID"),
                status=status,
                diagnostic=diagnostic,
                bounce_type=bounce_type,
                permanent=permanent,
                feedback_type=None,
                arrived_at=arrived_at,
                source_handle=handle,
                action=action,
                remote_mta=remote_mta,
                reason="" if original else "the report does not return the original headers",
            )
        )
    return reports


def _arf_report(
    message: Message, *, mail_id: str, handle: str, arrived_at: datetime | None
) -> list[MailboxReport] | None:
    blocks = _status_blocks(message, "message/feedback-report")
    if blocks is None:
        return None
    fields = blocks[0]
    original = _original_headers(message)
    recipient = _address_field(fields.get("Original-Rcpt-To")) or _first_address(original.get("To"))
    feedback_type = str(fields.get("Feedback-Type", "")).strip().lower() or None
    return [
        MailboxReport(
            report_id=mail_id,
            kind="complaint",
            recipient=recipient,
            herald_key=original.get(HERALD_KEY_HEADER),
            run=original.get(HERALD_RUN_HEADER),
            original_message_id=original.get("Message-ID"),
            status=None,
            diagnostic="",
            bounce_type=None,
            permanent=False,
            feedback_type=feedback_type,
            arrived_at=arrived_at,
            source_handle=handle,
            user_agent=one_line(str(fields.get("User-Agent", ""))) or None,
            original_mail_from=_address_field(fields.get("Original-Mail-From")),
            reason="" if feedback_type else "feedback report without Feedback-Type",
        )
    ]


def _fallback_reports(
    message: Message, *, mail_id: str, handle: str, arrived_at: datetime | None
) -> list[MailboxReport]:
    """Non-standard bounces by flufl.bounce's detectors; anything else is unknown."""
    try:
        temporary, permanent = all_failures(message)
    except Exception as error:  # flufl's heuristics trip over some malformed mails
        temporary, permanent = frozenset(), frozenset()
        failure = f"; flufl.bounce failed: {type(error).__name__}"
    else:
        failure = ""
    if not temporary and not permanent:
        return [_unknown(mail_id, handle, arrived_at, _why_unknown(message) + failure)]
    body = _plain_text(message)
    original = _headers_in_text(body)
    code, reply_text = _reply_in_text(body)
    found = [(address, True) for address in sorted(permanent)] + [
        (address, False) for address in sorted(temporary - permanent)
    ]
    reports = []
    for address, is_permanent in found:
        recipient = address.decode(errors="replace").strip("<>").lower()
        if code is not None:
            result = classify_smtp_reply(code, reply_text)
            status, diagnostic, bounce_type = result.status, result.diagnostic, result.bounce_type
        else:
            status, diagnostic = None, ""
            bounce_type = "hard" if is_permanent else "soft"
        reports.append(
            MailboxReport(
                report_id=mail_id if len(found) == 1 else f"{mail_id}#{recipient}",
                kind="bounce" if is_permanent else "delayed",
                recipient=recipient,
                herald_key=original.get(HERALD_KEY_HEADER.lower()),
                run=original.get(HERALD_RUN_HEADER.lower()),
                original_message_id=original.get("message-id"),
                status=status,
                diagnostic=diagnostic,
                bounce_type=bounce_type,
                permanent=is_permanent,
                feedback_type=None,
                arrived_at=arrived_at,
                source_handle=handle,
                standard=False,
                action="failed" if is_permanent else "delayed",
                reason="non-standard bounce read by flufl.bounce",
            )
        )
    return reports


def _why_unknown(message: Message) -> str:
    if message.get_content_type() == "multipart/report":
        report_type = message.get_param("report-type") or "none"
        return f"malformed or unsupported multipart/report (report-type {report_type})"
    if message.defects:
        return f"not a delivery report; malformed: {type(message.defects[0]).__name__}"
    auto = str(message.get("Auto-Submitted", "")).lower()
    subject = str(message.get("Subject", ""))
    if (
        auto.startswith("auto-replied")
        or message.get("X-Autoreply")
        or message.get("X-Autorespond")
        or str(message.get("Precedence", "")).lower() == "auto_reply"
        or _AUTO_SUBJECT.match(subject)
    ):
        return "auto-reply, not a delivery report"
    if auto.startswith("auto-generated"):
        return "automatic mail, not a delivery report"
    return "not a delivery report (a person's reply?)"


def _status_blocks(message: Message, content_type: str) -> list[Message] | None:
    """The field blocks of a message/delivery-status or message/feedback-report part."""
    for part in message.walk():
        if part.get_content_type() != content_type:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload:
            return [block for block in payload if isinstance(block, Message)] or None
        text = payload if isinstance(payload, str) else ""
        if part.get("Content-Transfer-Encoding"):
            raw = part.get_payload(decode=True)
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else text
        blocks: list[Message] = [
            email.parser.HeaderParser(policy=policy.default).parsestr(chunk.strip() + "\n")
            for chunk in re.split(r"\r?\n\s*\r?\n", text)
            if chunk.strip()
        ]
        return blocks or None
    return None


def _original_headers(message: Message) -> dict[str, str]:
    """Message-ID, To and our X-Herald-* headers of the returned original, if any."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return _wanted_headers(payload[0])
        elif content_type in ("text/rfc822-headers", "message/rfc822-headers"):
            raw = part.get_payload(decode=True)
            text = (
                raw.decode(errors="replace") if isinstance(raw, bytes) else str(part.get_payload())
            )
            headers = email.parser.HeaderParser(policy=policy.default).parsestr(text)
            return _wanted_headers(headers)
    return {}


def _wanted_headers(original: Message) -> dict[str, str]:
    found = {}
    for name in ("Message-ID", "To", HERALD_KEY_HEADER, HERALD_RUN_HEADER):
        value = original.get(name)
        if value is not None:
            found[name] = one_line(str(value))
    return found


def _headers_in_text(body: str) -> dict[str, str]:
    """Our headers quoted in a text bounce (keys lower-cased)."""
    found = {}
    for name in ("message-id", HERALD_KEY_HEADER.lower(), HERALD_RUN_HEADER.lower()):
        match = re.search(rf"^\s*{re.escape(name)}:\s*(\S.*?)\s*$", body, re.I | re.M)
        if match:
            found[name] = match.group(1)
    return found


def _reply_in_text(body: str) -> tuple[int | None, str]:
    match = re.search(r"^\s*([45]\d\d)[ -](.+)$", body, re.M)
    if match is None:
        return None, ""
    return int(match.group(1)), match.group(2).strip()


def _plain_text(message: Message) -> str:
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                texts.append(raw.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(texts)


def _action(block: Message) -> str:
    return str(block.get("Action", "")).strip().lower().split(" ", 1)[0]


def _address_field(value: object) -> str | None:
    """`rfc822; ann@shop.example` → `ann@shop.example` (also `dns; mx.example`)."""
    if value is None:
        return None
    text = one_line(str(value))
    if ";" in text:
        text = text.split(";", 1)[1]
    text = re.sub(r"\([^)]*\)", "", text).strip().strip("<>").strip().rstrip(".")
    return text or None


def _first_address(value: str | None) -> str | None:
    if not value:
        return None
    addresses = email.utils.getaddresses([value])
    return addresses[0][1] or None if addresses else None


def _mail_id(raw: bytes, message: Message | None) -> str:
    if message is not None:
        message_id = str(message.get("Message-ID", "")).strip()
        if message_id:
            return message_id
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _date(message: Message) -> datetime | None:
    try:
        value = email.utils.parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _unknown(mail_id: str, handle: str, arrived_at: datetime | None, reason: str) -> MailboxReport:
    return MailboxReport(
        report_id=mail_id,
        kind="unknown",
        recipient=None,
        herald_key=None,
        run=None,
        original_message_id=None,
        status=None,
        diagnostic="",
        bounce_type=None,
        permanent=False,
        feedback_type=None,
        arrived_at=arrived_at,
        source_handle=handle,
        standard=False,
        reason=one_line(reason, 300),
    )


__all__ = [
    "MailboxError",
    "MailboxReader",
    "MailboxReport",
    "MailboxSource",
    "confirmed_handles",
    "open_mailbox",
    "parse_mailbox_url",
    "parse_report",
]
