"""A profile's activity timeline: its web events, orders and message events, newest first.

    page = read_timeline(warehouse, profile, limit=20)
    more = read_timeline(warehouse, profile, limit=20, cursor=page["next_cursor"])

A row belongs to the profile when one of its id columns (user or customer id, anonymous id,
device id, contact id, recipient, e-mail, phone — those the table has) equals one of the
profile's identifier values. A table the warehouse does not have (a warehouse holding only
profile records has no `events`) or without such columns is left out.

Pages are keyed, not counted: items are ordered by (occurred_at, type, id), descending, and
the cursor is the key of a page's last item, so a page never repeats or skips an item when
newer activity arrives between two requests.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from herald.errors import HeraldError
from herald.profiles.card import as_utc, sql_literal
from herald.warehouse.base import Warehouse

MAX_LIMIT = 200


class InvalidCursor(HeraldError):
    """A timeline cursor that this code did not write (or that was altered)."""


@dataclass(frozen=True)
class TimelineSource:
    """A public table that holds activity, and how its rows become timeline items."""

    type: str
    table: str
    id_column: str
    time_column: str
    name_column: str
    match_columns: tuple[str, ...]
    detail_columns: tuple[str, ...]


# Ordered by `type`, which is part of the ordering key.
SOURCES = (
    TimelineSource(
        type="event",
        table="events",
        id_column="event_id",
        time_column="occurred_at",
        name_column="event_name",
        match_columns=("user_id", "anonymous_id", "device_id", "email", "phone"),
        detail_columns=(
            "event_type",
            "session_id",
            "url",
            "path",
            "title",
            "traffic_source",
            "product_id",
            "price",
            "goal",
        ),
    ),
    TimelineSource(
        type="message",
        table="message_events",
        id_column="event_id",
        time_column="occurred_at",
        name_column="event_type",
        match_columns=("contact_id", "recipient", "user_id", "email", "phone"),
        detail_columns=("channel", "campaign_id", "message_id", "url", "bounce_type"),
    ),
    TimelineSource(
        type="order",
        table="orders",
        id_column="order_id",
        time_column="created_at",
        name_column="status",
        match_columns=("customer_id", "user_id", "email", "phone"),
        detail_columns=("total", "currency", "is_paid", "line_count", "channel", "promo_code"),
    ),
)


def encode_cursor(occurred_at: datetime, item_type: str, item_id: str) -> str:
    text = json.dumps([occurred_at.astimezone(UTC).isoformat(), item_type, item_id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        occurred_at, item_type, item_id = json.loads(base64.urlsafe_b64decode(padded))
        moment = datetime.fromisoformat(occurred_at)
        if not isinstance(item_type, str) or not isinstance(item_id, str):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor(
            f"cursor {cursor[:40]!r} is not a timeline cursor: pass the next_cursor of a page"
        ) from None
    return as_utc(moment), item_type, item_id


def read_timeline(
    warehouse: Warehouse,
    profile: dict[str, Any],
    *,
    limit: int = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One page of a profile's activity: `items` (newest first), `next_cursor` (None on the
    last page) and `sources` (the tables read)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise HeraldError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    after = decode_cursor(cursor) if cursor else None
    values = sorted({str(row["value"]) for row in profile.get("identifiers", ())})
    items: list[dict[str, Any]] = []
    read: list[str] = []
    if values:
        tables = {info.name for info in warehouse.list_tables()}
        for source in SOURCES:
            if source.table not in tables:
                continue
            rows = _read_source(warehouse, source, values, limit + 1, after)
            if rows is not None:
                read.append(source.table)
                items.extend(rows)
    items.sort(key=lambda item: (item["occurred_at"], item["type"], item["id"]), reverse=True)
    page = items[:limit]
    next_cursor = None
    if len(items) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last["occurred_at"], last["type"], last["id"])
    return {"items": page, "next_cursor": next_cursor, "sources": read}


def _read_source(
    warehouse: Warehouse,
    source: TimelineSource,
    values: list[str],
    limit: int,
    after: tuple[datetime, str, str] | None,
) -> list[dict[str, Any]] | None:
    """Up to `limit` items of one table after the cursor; None if the table lacks columns."""
    columns = {column.name for column in warehouse.columns(source.table)}
    matches = [column for column in source.match_columns if column in columns]
    if not matches or not {source.id_column, source.time_column} <= columns:
        return None
    quote = warehouse.quote
    text = _as_text(warehouse)
    time = quote(source.time_column)
    item_id = text(quote(source.id_column))
    listed = ", ".join(sql_literal(warehouse, value) for value in values)
    conditions = [f"{time} is not null"]
    conditions.append(
        "(" + " or ".join(f"{text(quote(column))} in ({listed})" for column in matches) + ")"
    )
    if after is not None:
        moment, after_type, after_id = after
        stamp = _timestamp(warehouse, moment)
        if source.type < after_type:
            conditions.append(f"{time} <= {stamp}")
        elif source.type > after_type:
            conditions.append(f"{time} < {stamp}")
        else:
            conditions.append(
                f"({time} < {stamp} or ({time} = {stamp} and "
                f"{item_id} < {sql_literal(warehouse, after_id)}))"
            )
    name = text(quote(source.name_column)) if source.name_column in columns else "null"
    details = [column for column in source.detail_columns if column in columns]
    selected = ", ".join(
        [
            f"{item_id} as _item_id",
            f"{time} as _occurred_at",
            f"{name} as _item_name",
            *(quote(column) for column in details),
        ]
    )
    sql = (
        f"select {selected} from {warehouse.qualify(source.table)} "
        f"where {' and '.join(conditions)} "
        f"order by {time} desc, {item_id} desc limit {int(limit)}"
    )
    items = []
    for row in warehouse.query_arrow(sql).to_pylist():
        items.append(
            {
                "type": source.type,
                "id": str(row["_item_id"]),
                "occurred_at": as_utc(row["_occurred_at"]),
                "name": row["_item_name"],
                "details": {
                    column: row[column] for column in details if row[column] not in (None, "")
                },
            }
        )
    return items


def _as_text(warehouse: Warehouse) -> Any:
    if warehouse.dialect == "clickhouse":
        return lambda expression: f"toString({expression})"
    return lambda expression: f"cast({expression} as varchar)"


def _timestamp(warehouse: Warehouse, moment: datetime) -> str:
    """A UTC time (microseconds) as a literal of the engine's timestamp type."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if warehouse.dialect == "clickhouse":
        return f"toDateTime64('{text}', 6, 'UTC')"
    return f"cast('{text}' as timestamp)"
