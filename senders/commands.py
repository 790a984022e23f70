"""What `herald send ...` does, on the sender's side (the CLI loads this module by name).

    spec, channel = read_message_file(Path("welcome.yml"))
    run = launch_run(settings, store, spec, channel, name="welcome", segment="vip", database="shop")
    result = send_test(settings, store, spec, channel, to="me@shop.example")

A message file is YAML: the template parts (herald/templates.py) and the run's options.

    channel: email                       # email (default), telegram or webhook
    subject: "Hello {{ first_name }}"
    html: "<p>Hi {{ first_name }}</p>"   # or html_file: welcome.html (beside the YAML)
    from: news@shop.example
    from_name: Shop
    topic: news                          # consent is checked for this resource (default *)
    tracking: true                       # open pixel and tracked links
    unsubscribe_mailto: unsubscribe@shop.example
    mail_from: bounces@shop.example      # envelope sender (bounces go there)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from herald.campaigns.content import read_parts_file
from herald.campaigns.definition import SEND_OPTIONS
from herald.errors import HeraldError
from herald.sending.audience import snapshot_path, snapshot_segment, write_snapshot
from herald.sending.keys import idempotency_key
from herald.sending.runs import SendRunInfo, create_run, get_run, new_run_id
from herald.sending.send_log import LOG
from herald.sending.wire import Recipient, SendChunk
from herald.settings import Settings
from herald.templates import MessageTemplate

OPTIONS = ("channel", *SEND_OPTIONS)  # the run's options, as a campaign file's `options`
CHANNELS = ("email", "telegram", "webhook")


class MessageFileError(HeraldError):
    """A message file that cannot be read or has unknown keys."""


def read_message_file(path: Path) -> tuple[dict[str, Any], str]:
    """The run spec and channel a message file describes (its template checked)."""
    document = read_parts_file(path, "message file")
    channel = str(document.get("channel") or "email")
    if channel not in CHANNELS:
        raise MessageFileError(f"{path}: channel {channel!r} is not one of {', '.join(CHANNELS)}")
    options = {key: document[key] for key in OPTIONS if key in document}
    parts = {key: value for key, value in document.items() if key not in OPTIONS}
    MessageTemplate.from_spec(parts)  # MessageTemplateError names what does not compile
    spec = {**options, "template": parts}
    return spec, channel


def launch_run(
    settings: Settings,
    store: Engine,
    spec: dict[str, Any],
    channel: str,
    *,
    name: str,
    database: str | None,
    segment: str | None = None,
    snapshot: Path | None = None,
    kind: str = "campaign",
) -> tuple[SendRunInfo, dict[str, Any]]:
    """Freeze the audience (a segment, or a given Parquet file), create the run, enqueue it."""
    from senders.launcher import launch

    run_id = new_run_id(kind)
    if segment is not None:
        from herald.warehouse import open_warehouse

        if database is None:
            raise MessageFileError("a segment's run needs its profile database (--db)")
        warehouse = open_warehouse(settings, read_only=True)
        try:
            path = snapshot_segment(warehouse, segment, database, run_id, home=settings.home)
        finally:
            warehouse.close()
    elif snapshot is not None:
        path = snapshot_path(settings.home, run_id)
        write_snapshot(pq.read_table(snapshot), path)
    else:
        raise MessageFileError("give the audience: a segment or a snapshot file")
    rows = pq.ParquetFile(path).metadata.num_rows
    run = create_run(
        store,
        name=name,
        kind=kind,
        channel=channel,
        spec=spec,
        database=database,
        snapshot=str(path),
        recipients=rows,
        run_id=run_id,
    )
    result = launch(settings, store, run.id)
    return get_run(store, run.id), result.public()


def run_coroutine(make: Any) -> Any:
    """`asyncio.run(make())`, in a thread of its own when this thread already runs a loop
    (the CLI called from inside an application or a test runner)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def send_test(
    settings: Settings,
    store: Engine,
    spec: dict[str, Any],
    channel: str,
    *,
    to: str,
    fields: dict[str, Any] | None = None,
    database: str | None = None,
) -> dict[str, Any]:
    """Send one message now, in this process, through the whole pipeline but the queue:
    consent, the send log, rendering, signing, the provider, events."""
    from senders.worker import SendWorker

    run_id = new_run_id("test")
    values = dict(fields or {})
    profile_id = str(values.pop("profile_id", f"test:{to}"))
    column = spec.get("address_field") or {"telegram": "telegram_chat_id"}.get(channel, "email")
    if channel == "webhook":
        column = spec.get("address_field") or "address"
    table = pa.Table.from_pylist([{"profile_id": profile_id, column: to, **values}])
    path = snapshot_path(settings.home, run_id)
    write_snapshot(table, path)
    run = create_run(
        store,
        name=f"test to {to}",
        kind="test",
        channel=channel,
        spec=spec,
        database=database,
        snapshot=str(path),
        recipients=1,
        run_id=run_id,
    )
    started = time.perf_counter()
    recipient = Recipient(profile_id, to, {column: to, **values})

    async def deliver() -> None:
        worker = SendWorker(settings, f"test:{run_id}", store=store)
        await worker.connect()
        try:
            await worker.process(SendChunk(run.id, [recipient]))
        finally:
            await worker.close()

    run_coroutine(deliver)
    key = idempotency_key(run.id, profile_id, channel)
    from sqlalchemy import select

    with store.connect() as connection:
        row = connection.execute(select(LOG).where(LOG.c.key == key)).mappings().first()
    outcome = dict(row) if row else {"state": "unknown"}
    return {
        "run": run.id,
        "to": to,
        "state": outcome.get("state"),
        "code": outcome.get("code"),
        "diagnostic": outcome.get("diagnostic"),
        "message_id": outcome.get("message_id"),
        "seconds": round(time.perf_counter() - started, 3),
    }
