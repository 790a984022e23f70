"""The sender for tests: a receiving SMTP server (aiosmtpd), a home with delivery rules that
route test domains to it, DKIM keys, and queues of its own on the real RabbitMQ.

    sink = MailSink.start(answers={"defer.test": "451 4.7.1 Try again later"})
    home = SendingHome.create(tmp_path, sink)          # own HERALD_HOME, queues, rules, keys
    run = home.run_for([("p1", "anna@ok.test", {"first_name": "Anna"})])
    home.launch(run.id)
    home.work_until_idle()                             # in-process worker until nothing is left
    sink.messages                                      # what the server accepted

Each home gets its own `sends` and `events` queue names, so tests in parallel processes never
share a queue. The rules send every domain to the sink (mx_overrides), with retry delays in
seconds so retries happen within a test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email
import email.policy
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pyarrow as pa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine, select

from herald.profiles.databases import apply_schema
from herald.profiles.schema import load_schema
from herald.sending.audience import snapshot_path, write_snapshot
from herald.sending.runs import SendRunInfo, create_run
from herald.sending.send_log import LOG
from herald.settings import Settings
from herald.store import create_store_engine, migrate

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("HERALD_TEST_BROKER", "amqp://guest:guest@127.0.0.1:5672/")
SCHEMA = ROOT / "docs" / "schemas" / "customers.yml"
TRACKING_KEYS = "t1:" + "k" * 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    mail_from: str
    recipients: list[str]
    data: bytes
    received_at: float = field(default_factory=time.monotonic)

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def key(self) -> str:
        return str(self.message["X-Herald-Key"])


@dataclass
class SinkHandler:
    """Accepts everything, except recipients of domains given an answer (4xx or 5xx)."""

    answers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering each message's DATA
    messages: list[ReceivedMail] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        answer = self.answers.get(address.rsplit("@", 1)[-1].lower())
        if answer:
            with self.lock:
                self.refused.append((address, answer))
            return answer
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        data = envelope.original_content or b""
        with self.lock:
            self.messages.append(
                ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(data))
            )
            count = len(self.messages)
        return f"250 2.0.0 Ok: queued as S{count}"


class FinishingSMTP(SMTP):
    """aiosmtpd's server, except that a message received whole (its final dot read) is
    finished when the client goes away right after, as Postfix and Exim do; aiosmtpd itself
    cancels its session on EOF and drops whatever it had not processed yet."""

    def eof_received(self) -> bool | None:
        return asyncio.StreamReaderProtocol.eof_received(self)

    def connection_lost(self, error: Exception | None) -> None:
        session = self._handler_coroutine
        # aiosmtpd cancels this; give it a stand-in so the session reads what is buffered,
        # meets the end of the stream and stops by itself
        self._handler_coroutine = asyncio.get_running_loop().create_future()
        super().connection_lost(error)
        self._handler_coroutine = session
        if session is not None:  # a reset connection ends it with an error nobody awaits
            session.add_done_callback(lambda task: task.cancelled() or task.exception())


class SinkController(Controller):
    def factory(self) -> SMTP:
        return FinishingSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class MailSink:
    handler: SinkHandler
    controller: Controller
    port: int

    @classmethod
    def start(cls, answers: dict[str, str] | None = None, delay: float = 0.0) -> MailSink:
        """An aiosmtpd server on a free port (PIPELINING advertised) in its own thread."""
        handler = SinkHandler(answers=dict(answers or {}), delay=delay)
        port = free_port()
        controller = SinkController(
            handler, hostname="127.0.0.1", port=port, data_size_limit=None, decode_data=False
        )
        controller.start()
        return cls(handler, controller, port)

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[ReceivedMail]:
        with self.handler.lock:
            return list(self.handler.messages)

    def by_recipient(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for mail in self.messages:
            for recipient in mail.recipients:
                counts[recipient] = counts.get(recipient, 0) + 1
        return counts


def rules_text(
    port: int, domains: list[str], *, first_retry: str = "1s", max_age: str = "30s"
) -> str:
    overrides = "\n".join(f'  {domain}: "127.0.0.1:{port}"' for domain in domains)
    return f"""defaults:
  retry: {{first: {first_retry}, factor: 2, max_delay: 4s, max_age: {max_age}}}
routes:
  default: {{mode: mx, tls: none}}
mx_overrides:
{overrides}
"""


@dataclass
class SendingHome:
    home: Path
    settings: Settings
    store: Engine
    env: dict[str, str]
    domains: list[str]
    dkim_records: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        tmp_path: Path,
        sink: MailSink,
        *,
        domains: tuple[str, ...] = ("ok.test", "defer.test", "bounce.test", "other.test"),
        first_retry: str = "1s",
        max_age: str = "30s",
        dkim: bool = True,
        schema: bool = True,
    ) -> SendingHome:
        """A home under `tmp_path/home` (kept if it exists): queues of its own, delivery
        rules to `sink`, with `schema` the customers profile database, with `dkim` keys."""
        home = tmp_path / "home"
        home.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:10]
        env = {
            "HERALD_HOME": str(home),
            "HERALD_BROKER": BROKER,
            "HERALD_SENDS_QUEUE": f"sends_test_{tag}",
            "HERALD_EVENTS_QUEUE": f"events_test_{tag}",
            "HERALD_TRACKING_KEYS": TRACKING_KEYS,
            "HERALD_TRACKING_URL": "http://127.0.0.1:8090",
            "HERALD_SENDER_HELO": "sender.test",
            "HERALD_SENDER_BUSY_RETRY_SECONDS": "2",
        }
        (home / "delivery-rules.yml").write_text(
            rules_text(sink.port, list(domains), first_retry=first_retry, max_age=max_age)
        )
        settings = Settings(
            home=home,
            broker=BROKER,
            sends_queue=env["HERALD_SENDS_QUEUE"],
            events_queue=env["HERALD_EVENTS_QUEUE"],
            tracking_keys=TRACKING_KEYS,
            tracking_url=env["HERALD_TRACKING_URL"],
            sender_helo="sender.test",
            sender_busy_retry_seconds=2,
        )
        migrate(settings.database_url)
        store = create_store_engine(settings.database_url)
        if schema:
            apply_schema(store, load_schema(SCHEMA), None)
        records: dict[str, str] = {}
        if dkim:
            from senders.dkim import generate_dkim_key

            for selector, algorithm in (("rsa1", "rsa"), ("ed1", "ed25519")):
                info = generate_dkim_key(home / "dkim", "shop.test", selector, algorithm=algorithm)
                records[info.dns_name] = info.dns_value
        full_env = {**os.environ, **env}
        full_env.pop("HERALD_DATABASE", None)
        full_env.pop("HERALD_WAREHOUSE", None)
        return cls(home, settings, store, full_env, list(domains), records)

    def route(self, domain: str, target: str) -> None:
        """Send a domain somewhere else (a new worker reads the file; a running one takes the
        change within a heartbeat)."""
        path = self.home / "delivery-rules.yml"
        lines = [
            f'  {domain}: "{target}"' if line.strip().startswith(f"{domain}:") else line
            for line in path.read_text().splitlines()
        ]
        path.write_text("\n".join(lines) + "\n")

    def dkim_dns(self, name: bytes, timeout: int = 5) -> bytes:
        """What DNS would answer for a DKIM key record (dkimpy's dnsfunc)."""
        return self.dkim_records.get(name.decode().rstrip("."), "").encode()

    def run_for(
        self,
        recipients: list[tuple[str, str, dict[str, Any]]],
        *,
        spec: dict[str, Any] | None = None,
        kind: str = "campaign",
        channel: str = "email",
        database: str | None = "customers",
        address_field: str = "email",
    ) -> SendRunInfo:
        rows = [{"profile_id": p, address_field: a, **fields} for p, a, fields in recipients]
        run_id = f"{kind}-{uuid.uuid4().hex[:12]}"
        path = snapshot_path(self.home, run_id)
        write_snapshot(pa.Table.from_pylist(rows), path)
        return create_run(
            self.store,
            name="test run",
            kind=kind,
            channel=channel,
            spec=spec or default_spec(),
            database=database,
            snapshot=str(path),
            recipients=len(rows),
            run_id=run_id,
        )

    def launch(self, run_id: str, **options: Any) -> Any:
        from senders.launcher import launch

        return launch(self.settings, self.store, run_id, **options)

    def worker(self, **options: Any) -> Any:
        from senders.worker import SendWorker

        return SendWorker(
            self.settings, f"test:{uuid.uuid4().hex[:6]}", store=self.store, **options
        )

    def work_until_idle(
        self, *, idle: float = 1.5, timeout: float = 60.0, worker: Any = None, **options: Any
    ) -> Any:
        """Run an in-process worker until the lanes and the delay queues it used stay empty
        for `idle` seconds with no chunk in hand (retries waiting count as not idle)."""
        worker = worker or self.worker(**options)

        async def work() -> None:
            runner = asyncio.create_task(worker.run())
            deadline = time.monotonic() + timeout
            quiet_since: float | None = None
            while time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                if runner.done():
                    break
                names = [*self.queue_names()[:2], *worker._declared_delays]
                busy = bool(worker._tasks) or await asyncio.to_thread(self.pending, names) > 0
                if busy:
                    quiet_since = None
                elif quiet_since is None:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= idle:
                    break
            worker.stop()
            await runner

        in_thread(work)
        return worker

    def queue_names(self) -> list[str]:
        base = self.settings.sends_queue
        return [base, f"{base}.priority", f"{base}.dead", self.settings.events_queue,
                f"{self.settings.events_queue}.dead"]  # fmt: skip

    def pending(self, names: list[str]) -> int:
        """Messages in these queues (a queue that does not exist counts as empty)."""
        total = 0
        connection = pika.BlockingConnection(pika.URLParameters(BROKER))
        try:
            for name in names:
                channel = connection.channel()
                with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):
                    total += channel.queue_declare(queue=name, passive=True).method.message_count
        finally:
            connection.close()
        return total

    def all_queue_names(self) -> list[str]:
        """Every queue this home may have made: lanes, dead letters, delays, holds."""
        base = self.settings.sends_queue
        delays = [f"{lane}.delay.{seconds}" for lane in (base, f"{base}.priority")
                  for seconds in range(1, 61)]  # fmt: skip
        return [*self.queue_names(), *delays]

    def states(self, run_id: str) -> dict[str, str]:
        with self.store.connect() as connection:
            rows = connection.execute(
                select(LOG.c.profile_id, LOG.c.state).where(LOG.c.run_id == run_id)
            )
            return {profile_id: state for profile_id, state in rows}

    def log_rows(self, run_id: str) -> list[dict[str, Any]]:
        with self.store.connect() as connection:
            return [
                dict(r)
                for r in connection.execute(select(LOG).where(LOG.c.run_id == run_id)).mappings()
            ]

    def events(self) -> list[dict[str, Any]]:
        """The sender events published so far (read off the events queue, requeued)."""
        import orjson

        found: list[dict[str, Any]] = []
        connection = pika.BlockingConnection(pika.URLParameters(BROKER))
        try:
            channel = connection.channel()
            while True:
                method, _properties, body = channel.basic_get(self.settings.events_queue)
                if method is None:
                    break
                value = orjson.loads(body)
                found.extend(value if isinstance(value, list) else [value])
                channel.basic_ack(method.delivery_tag)
        finally:
            connection.close()
        return found

    def delete_queues(self) -> None:
        with contextlib.suppress(pika.exceptions.AMQPError):
            connection = pika.BlockingConnection(pika.URLParameters(BROKER))
            try:
                channel = connection.channel()
                for name in self.all_queue_names():
                    channel.queue_delete(name)
            finally:
                connection.close()
        self.store.dispose()


def in_thread(work: Any) -> Any:
    """`asyncio.run(work())` in a thread of its own: a test process may already have an event
    loop running in its main thread (Playwright's sync API leaves one behind)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(work())).result()


def recipients(count: int, domain: str = "ok.test", start: int = 0) -> list[Any]:
    """(profile_id, address, fields) of `count` recipients p<start>… at user<i>@<domain>."""
    return [
        (f"p{i}", f"user{i}@{domain}", {"first_name": f"Name{i}"})
        for i in range(start, start + count)
    ]


def default_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "template": {
            "subject": "Hello {{ first_name }}",
            "html": (
                "<html><body><p>Hi {{ first_name }},</p>"
                '<p><a href="https://shop.test/sale?a=1&amp;b=2">Sale</a></p></body></html>'
            ),
            "from": "news@shop.test",
            "from_name": "Shop",
        },
        "topic": "news",
        "mail_from": "bounces@shop.test",
    }
    spec.update(overrides)
    return spec


@contextlib.contextmanager
def sending(tmp_path: Path, **options: Any) -> Iterator[tuple[MailSink, SendingHome]]:
    sink = MailSink.start(options.pop("answers", None), options.pop("delay", 0.0))
    home = SendingHome.create(tmp_path, sink, **options)
    try:
        yield sink, home
    finally:
        home.delete_queues()
        sink.stop()
