"""Envelopes from the events queue into landing rows: events, message events, orders and
order lines, profile records; every refused event with its reason.

    batch = TrackedBatch()
    for envelope in envelopes:
        batch.add(envelope)
    batch.events_table()   # the landing table `events` (raw_events), one row per message

This is pure: no broker, no store, no files (tracking/loader.py does those), so it is what
the tests of every mapping call directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pyarrow as pa

from herald.bots import automated_reason
from herald.sending.events import SENDER_EVENT_TYPES
from herald.tokens import token_from_payload

EVENT_NAMES = {
    "page": "Page Viewed",
    "screen": "Screen Viewed",
    "identify": "Identify",
    "group": "Group",
    "alias": "Alias",
}
ORDER_STATUSES = {
    "Order Completed": "paid",
    "Order Updated": None,  # the event's `status` property, if any
    "Order Refunded": "returned",
    "Order Cancelled": "cancelled",
}
_S = pa.string()
_TS = pa.timestamp("ms")
EVENT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("message_id", _S), ("type", _S), ("event", _S), ("name", _S), ("anonymous_id", _S),
    ("user_id", _S), ("session_id", _S), ("device_id", _S), ("timestamp", _TS),
    ("received_at", _TS), ("sent_at", _TS), ("url", _S), ("path", _S), ("title", _S),
    ("referrer", _S), ("utm_source", _S), ("utm_medium", _S), ("utm_campaign", _S),
    ("utm_content", _S), ("utm_term", _S), ("product_id", _S), ("category", _S),
    ("brand", _S), ("price", pa.float64()), ("goal", _S), ("properties", _S), ("traits", _S),
    ("context", _S), ("group_id", _S), ("previous_id", _S), ("source", _S), ("database", _S),
    ("ip", _S), ("user_agent", _S), ("automated", _S), ("herald_profile_id", _S),
)  # fmt: skip
MESSAGE_EVENT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("event_id", _S), ("message_id", _S), ("campaign_id", _S), ("campaign_run", _S),
    ("channel", _S), ("recipient", _S), ("contact_id", _S), ("database", _S),
    ("profile_id", _S), ("event_type", _S), ("occurred_at", _TS), ("url", _S),
    ("link_position", pa.int32()), ("bounce_type", _S), ("smtp_code", pa.int32()),
    ("smtp_status", _S), ("diagnostic", _S), ("provider", _S), ("ip", _S),
    ("user_agent", _S), ("automated", _S),
)  # fmt: skip
ORDER_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("order_id", _S), ("customer_id", _S), ("created_at", _TS), ("updated_at", _TS),
    ("status", _S), ("currency", _S), ("total", pa.float64()), ("discount", pa.float64()),
    ("promo_code", _S), ("channel", _S), ("utm_source", _S), ("utm_campaign", _S),
)  # fmt: skip
ORDER_ITEM_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("order_id", _S), ("line_number", pa.int32()), ("product_id", _S), ("product_name", _S),
    ("category", _S), ("brand", _S), ("quantity", pa.int32()), ("unit_price", pa.float64()),
)  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TEXT = 2048


class EventRefused(ValueError):
    """An event the loader cannot land, with the reason kept beside it."""


def epoch_ms(text: str | int) -> int:
    if type(text) is int:
        return text
    moment = datetime.fromisoformat(text)  # type: ignore[arg-type]
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH


def _text(value: Any) -> str | None:
    if value.__class__ is str:
        return (value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT]) or None
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _json(value: Any) -> str | None:
    if not value:
        return None
    return orjson.dumps(value).decode("utf-8")


def _utm_from_url(url: str | None) -> dict[str, str]:
    if not url or "utm_" not in url:
        return {}
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:
        return {}
    return {key: values[0] for key, values in query.items() if key.startswith("utm_") and values}


@dataclass
class Identity:
    """A userId and anonymousId seen together, the first time in this batch."""

    database: str
    source: str
    user_id: str | None
    anonymous_id: str | None


@dataclass
class TrackedBatch:
    """What one micro-batch of envelopes becomes."""

    event_rows: list[tuple[Any, ...]] = field(default_factory=list)
    message_events: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name, _ in MESSAGE_EVENT_COLUMNS}
    )
    orders: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name, _ in ORDER_COLUMNS}
    )
    order_items: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name, _ in ORDER_ITEM_COLUMNS}
    )
    # (database, source) -> identify traits, alias and e-mail-link records, in order
    profile_updates: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    identities: dict[tuple[str, str, str], Identity] = field(default_factory=dict)
    refused: list[tuple[str, bytes]] = field(default_factory=list)  # (reason, the event)
    received: int = 0

    # --- intake ----------------------------------------------------------------------------
    def add(self, envelope: dict[str, Any]) -> None:
        kind = envelope.get("kind")
        events = envelope.get("events") if kind == "segment" else None
        if kind == "segment" and not isinstance(events, list):
            kind = "damaged"
        rejected = envelope.get("rejected")
        for item in rejected if isinstance(rejected, list) else ():
            self.received += 1
            if isinstance(item, list) and len(item) == 2:
                self.refused.append((str(item[0]), orjson.dumps(item[1])))
            else:
                self.refused.append(("refused by the tracker", orjson.dumps(item)))
        if kind == "segment":
            for message in events or ():
                self.received += 1
                try:
                    self._segment(envelope, message)
                except Exception as exc:
                    self.refused.append((f"{type(exc).__name__}: {exc}", orjson.dumps(message)))
        elif kind == "message":
            self.received += 1
            try:
                self._message(envelope)
            except Exception as exc:
                self.refused.append((f"{type(exc).__name__}: {exc}", orjson.dumps(envelope)))
        elif "rejected" not in envelope:
            self.received += 1
            self.refused.append((f"unknown envelope kind {kind!r}", orjson.dumps(envelope)[:65536]))

    @property
    def accepted(self) -> int:
        return len(self.event_rows) + len(self.message_events["event_id"])

    def _segment(self, envelope: dict[str, Any], message: dict[str, Any]) -> None:
        if not isinstance(message, dict):
            raise EventRefused("an event must be a JSON object")
        kind = message.get("type")
        message_id = _text(message.get("messageId"))
        if not message_id:
            raise EventRefused("the event has no messageId")
        received_at = epoch_ms(envelope["received_at"])
        timestamp = received_at
        sent_at = None
        if message.get("sentAt"):
            sent_at = epoch_ms(message["sentAt"])
        stated = message.get("timestamp") or message.get("originalTimestamp")
        if stated:
            timestamp = epoch_ms(stated)
            if sent_at is not None:  # Segment's correction of the device's clock
                timestamp = received_at - (sent_at - timestamp)
        properties = message.get("properties") or {}
        context = message.get("context") or {}
        if not isinstance(properties, dict) or not isinstance(context, dict):
            raise EventRefused("properties and context must be JSON objects")
        traits = message.get("traits") or {}
        if not traits and kind == "identify":  # RudderStack's SDKs send them in the context
            traits = context.get("traits") or {}
        page = context.get("page") or {}
        if not isinstance(page, dict):
            page = {}
        source_props = properties if kind == "page" else {}
        url = _text(source_props.get("url") or page.get("url"))
        campaign = context.get("campaign") or {}
        if not isinstance(campaign, dict):
            campaign = {}
        from_url = _utm_from_url(url)
        device = context.get("device") or {}
        user_agent = _text(context.get("userAgent"))
        ip = _text(context.get("ip")) or envelope.get("ip")
        herald = context.get("herald") or {}
        user_id = _text(message.get("userId"))
        anonymous_id = _text(message.get("anonymousId"))
        event_name = _text(message.get("event")) if kind == "track" else EVENT_NAMES.get(str(kind))
        if event_name is None:
            raise EventRefused(f"unknown type {kind!r}")
        text = _text
        self.event_rows.append(
            (  # in EVENT_COLUMNS order: one tuple per event is much cheaper than 36 appends
                message_id,
                kind,
                event_name,
                text(message.get("name")),
                anonymous_id,
                user_id,
                text(context.get("sessionId") or properties.get("session_id")),
                text(device.get("id")) if isinstance(device, dict) else None,
                timestamp,
                received_at,
                sent_at,
                url,
                text(source_props.get("path") or page.get("path")),
                text(source_props.get("title") or page.get("title")),
                text(source_props.get("referrer") or page.get("referrer")),
                text(campaign.get("source") or from_url.get("utm_source")),
                text(campaign.get("medium") or from_url.get("utm_medium")),
                text(campaign.get("name") or from_url.get("utm_campaign")),
                text(campaign.get("content") or from_url.get("utm_content")),
                text(campaign.get("term") or from_url.get("utm_term")),
                text(properties.get("product_id") or properties.get("sku")),
                text(properties.get("category")),
                text(properties.get("brand")),
                _number(properties.get("price")),
                text(properties.get("goal")),
                _json(properties),
                _json(traits) if isinstance(traits, dict) else None,
                _json(context),
                text(message.get("groupId")),
                text(message.get("previousId")),
                envelope.get("source"),
                envelope.get("database"),
                ip,
                user_agent,
                automated_reason(kind="page", user_agent=user_agent, ip=None)
                if user_agent
                else None,
                text(herald.get("profile_id")) if isinstance(herald, dict) else None,
            )
        )
        database = str(envelope.get("database") or "")
        source = str(envelope.get("source") or "")
        self._identity(database, source, user_id, anonymous_id)
        if kind == "identify" and isinstance(traits, dict):
            self.profile_updates.append(
                (
                    database,
                    source,
                    {"user_id": user_id, "anonymous_id": anonymous_id, "traits": traits},
                )
            )
        elif kind == "alias":
            self.profile_updates.append(
                (
                    database,
                    source,
                    {
                        "user_id": user_id,
                        "anonymous_id": _text(message.get("previousId")),
                        "traits": {},
                    },
                )
            )
        if isinstance(herald, dict) and herald.get("profile_id") and anonymous_id:
            self.profile_updates.append(
                (
                    str(herald.get("database") or database),
                    source,
                    {
                        "user_id": None,
                        "anonymous_id": anonymous_id,
                        "traits": {},
                        "profile_id": str(herald["profile_id"]),
                    },
                )
            )
        if kind == "track" and event_name in ORDER_STATUSES:
            self._order(event_name, properties, context, user_id or anonymous_id, timestamp)

    def _identity(
        self, database: str, source: str, user_id: str | None, anonymous_id: str | None
    ) -> None:
        for kind, value in (("user", user_id), ("anonymous", anonymous_id)):
            if value is not None and (database, kind, value) not in self.identities:
                self.identities[(database, kind, value)] = Identity(
                    database, source, user_id, anonymous_id
                )

    def _order(
        self,
        event_name: str,
        properties: dict[str, Any],
        context: dict[str, Any],
        customer_id: str | None,
        timestamp: int,
    ) -> None:
        order_id = _text(properties.get("order_id"))
        if not order_id:
            raise EventRefused(f"{event_name} has no order_id property")
        status = ORDER_STATUSES[event_name] or _text(properties.get("status"))
        total = _number(properties.get("total"))
        if total is None:
            total = _number(properties.get("revenue"))
        device = context.get("device") or {}
        device_type = str(device.get("type") or "").lower() if isinstance(device, dict) else ""
        campaign = context.get("campaign") or {}
        if not isinstance(campaign, dict):
            campaign = {}
        orders = self.orders
        orders["order_id"].append(order_id)
        orders["customer_id"].append(customer_id)
        orders["created_at"].append(timestamp)
        orders["updated_at"].append(timestamp)
        orders["status"].append(status)
        orders["currency"].append((_text(properties.get("currency")) or "USD").upper())
        orders["total"].append(total)
        orders["discount"].append(_number(properties.get("discount")) or 0.0)
        orders["promo_code"].append(_text(properties.get("coupon")))
        orders["channel"].append("app" if device_type in ("ios", "android") else "web")
        orders["utm_source"].append(_text(campaign.get("source")))
        orders["utm_campaign"].append(_text(campaign.get("name")))
        products = properties.get("products")
        if event_name in ("Order Completed", "Order Updated") and isinstance(products, list):
            items = self.order_items
            for line, product in enumerate(products, start=1):
                if not isinstance(product, dict):
                    continue
                quantity = _number(product.get("quantity"))
                items["order_id"].append(order_id)
                items["line_number"].append(line)
                items["product_id"].append(_text(product.get("product_id") or product.get("sku")))
                items["product_name"].append(_text(product.get("name")))
                items["category"].append(_text(product.get("category")))
                items["brand"].append(_text(product.get("brand")))
                items["quantity"].append(int(quantity) if quantity is not None else 1)
                items["unit_price"].append(_number(product.get("price")))

    def _message(self, envelope: dict[str, Any]) -> None:
        if envelope.get("source") == "sender":
            self._sender_message(envelope)
            return
        token = token_from_payload(envelope.get("token"))
        event_type = envelope.get("type")
        if event_type not in ("opened", "clicked", "unsubscribed", "viewed"):
            raise EventRefused(f"unknown message event type {event_type!r}")
        user_agent = _text(envelope.get("user_agent"))
        ip = _text(envelope.get("ip"))
        method = str(envelope.get("method") or "GET")
        kind = "open" if event_type == "opened" else "click"
        columns = self.message_events
        columns["event_id"].append(_text(envelope.get("event_id")) or "")
        columns["message_id"].append(token.message_id or None)
        columns["campaign_id"].append(token.campaign_run or None)
        columns["campaign_run"].append(token.campaign_run or None)
        columns["channel"].append(token.channel)
        columns["recipient"].append(None)
        columns["contact_id"].append(None)
        columns["database"].append(token.database)
        columns["profile_id"].append(token.profile_id)
        columns["event_type"].append(event_type)
        columns["occurred_at"].append(epoch_ms(envelope["received_at"]))
        columns["url"].append(_text(envelope.get("url")))
        columns["link_position"].append(token.link)
        columns["bounce_type"].append(None)
        columns["smtp_code"].append(None)
        columns["smtp_status"].append(None)
        columns["diagnostic"].append(None)
        columns["provider"].append(None)
        columns["ip"].append(ip)
        columns["user_agent"].append(user_agent)
        columns["automated"].append(
            automated_reason(kind=kind, user_agent=user_agent, ip=ip, method=method)
            if event_type in ("opened", "clicked")
            else None
        )

    def _sender_message(self, envelope: dict[str, Any]) -> None:
        """A state change the sender published (herald/sending/events.py)."""
        event_type = envelope.get("type")
        if event_type not in SENDER_EVENT_TYPES:
            raise EventRefused(f"unknown message event type {event_type!r}")
        profile_id = _text(envelope.get("profile_id"))
        event_id = _text(envelope.get("event_id"))
        if not profile_id or not event_id:
            raise EventRefused("a sender event has an event_id and a profile_id")
        code = envelope.get("smtp_code")
        columns = self.message_events
        columns["event_id"].append(event_id)
        columns["message_id"].append(_text(envelope.get("message_id")))
        columns["campaign_id"].append(_text(envelope.get("run")))
        columns["campaign_run"].append(_text(envelope.get("run")))
        columns["channel"].append(_text(envelope.get("channel")))
        columns["recipient"].append(_text(envelope.get("recipient")))
        columns["contact_id"].append(None)
        columns["database"].append(_text(envelope.get("database")))
        columns["profile_id"].append(profile_id)
        columns["event_type"].append(event_type)
        columns["occurred_at"].append(epoch_ms(envelope["received_at"]))
        columns["url"].append(None)
        columns["link_position"].append(None)
        columns["bounce_type"].append(_text(envelope.get("bounce_type")))
        columns["smtp_code"].append(code if type(code) is int and 0 <= code < 1000 else None)
        columns["smtp_status"].append(_text(envelope.get("smtp_status")))
        columns["diagnostic"].append(_text(envelope.get("diagnostic")))
        columns["provider"].append(_text(envelope.get("provider")))
        columns["ip"].append(None)
        columns["user_agent"].append(None)
        columns["automated"].append(None)

    # --- output ------------------------------------------------------------------------
    @staticmethod
    def _table(
        columns: dict[str, list[Any]], schema: tuple[tuple[str, pa.DataType], ...]
    ) -> pa.Table:
        arrays = []
        for name, kind in schema:
            values = columns[name]
            if kind == _TS:
                arrays.append(pa.array(values, pa.int64()).cast(_TS))
            else:
                arrays.append(pa.array(values, kind))
        return pa.Table.from_arrays(arrays, names=[name for name, _ in schema])

    def events_table(self) -> pa.Table:
        columns = list(zip(*self.event_rows, strict=True)) if self.event_rows else None
        return self._table(
            {
                name: list(columns[index]) if columns else []
                for index, (name, _) in enumerate(EVENT_COLUMNS)
            },
            EVENT_COLUMNS,
        )

    def message_events_table(self) -> pa.Table:
        return self._table(self.message_events, MESSAGE_EVENT_COLUMNS)

    def orders_table(self) -> pa.Table:
        return self._table(self.orders, ORDER_COLUMNS)

    def order_items_table(self) -> pa.Table:
        return self._table(self.order_items, ORDER_ITEM_COLUMNS)
