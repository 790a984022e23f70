"""The exact Arrow schema of every landing source the generator writes, and of the truth file.

Other code (staging SQL, docs/landing.md) relies on these names and types; change them only
together.
"""

from __future__ import annotations

import pyarrow as pa

_TS = pa.timestamp("ms")
_S = pa.string()


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, value_type) for name, value_type in fields])


CRM_CONTACTS = _schema(
    *(
        (name, _S)
        for name in (
            "contact_id", "first_name", "last_name", "email", "phone", "birthday", "city",
            "gender", "loyalty_level", "loyalty_points", "created_at", "updated_at",
        )
    )
)  # fmt: skip

WEB_SIGNUPS = _schema(
    ("signup_id", _S), ("anonymous_id", _S), ("email", _S), ("phone", _S), ("name", _S),
    ("city", _S), ("signed_up_at", _TS), ("utm_source", _S), ("utm_medium", _S),
    ("utm_campaign", _S), ("consent_email", pa.bool_()), ("consent_sms", pa.bool_()),
)  # fmt: skip

SHOP_CUSTOMERS = _schema(
    ("customer_id", _S), ("email", _S), ("phone", _S), ("first_name", _S), ("last_name", _S),
    ("birth_date", pa.date32()), ("city", _S), ("registered_at", _TS), ("updated_at", _TS),
)  # fmt: skip

DEVICES = _schema(
    ("device_id", _S), ("anonymous_id", _S), ("customer_id", _S), ("signup_id", _S),
    ("platform", _S), ("os", _S), ("os_version", _S), ("browser", _S), ("app_version", _S),
    ("push_token", _S), ("first_seen_at", _TS), ("last_seen_at", _TS),
)  # fmt: skip

WEB_EVENTS = _schema(
    ("message_id", _S), ("type", _S), ("event", _S), ("anonymous_id", _S), ("user_id", _S),
    ("session_id", _S), ("device_id", _S), ("timestamp", _TS), ("received_at", _TS),
    ("url", _S), ("path", _S), ("title", _S), ("referrer", _S), ("utm_source", _S),
    ("utm_medium", _S), ("utm_campaign", _S), ("utm_content", _S), ("utm_term", _S),
    ("product_id", _S), ("category", _S), ("brand", _S), ("price", pa.float64()),
    ("goal", _S), ("properties", _S),
)  # fmt: skip

ORDERS = _schema(
    ("order_id", _S), ("customer_id", _S), ("created_at", _TS), ("updated_at", _TS),
    ("status", _S), ("currency", _S), ("total", pa.float64()), ("discount", pa.float64()),
    ("promo_code", _S), ("channel", _S), ("utm_source", _S), ("utm_campaign", _S),
)  # fmt: skip

ORDER_ITEMS = _schema(
    ("order_id", _S), ("line_number", pa.int32()), ("product_id", _S), ("product_name", _S),
    ("category", _S), ("brand", _S), ("quantity", pa.int32()), ("unit_price", pa.float64()),
)  # fmt: skip

MESSAGE_EVENTS = _schema(
    ("event_id", _S), ("message_id", _S), ("campaign_id", _S), ("channel", _S),
    ("recipient", _S), ("contact_id", _S), ("event_type", _S), ("occurred_at", _TS),
    ("url", _S), ("link_position", pa.int32()), ("bounce_type", _S), ("smtp_code", pa.int32()),
    ("smtp_status", _S), ("diagnostic", _S), ("provider", _S),
)  # fmt: skip

SUBSCRIPTIONS = _schema(
    ("contact_id", _S), ("channel", _S), ("resource", _S), ("status", _S),
    ("changed_at", _TS), ("source", _S),
)  # fmt: skip

# Raw profile records, exactly as herald/profiles/records.py writes them (PROFILE_RECORDS_SCHEMA;
# not imported from there, so generator processes do not load the operational store).
PROFILE_RECORDS = pa.schema(
    [
        pa.field("database", _S, nullable=False),
        pa.field("source", _S, nullable=False),
        pa.field("import_id", _S, nullable=False),
        pa.field("row_number", pa.int64(), nullable=False),
        pa.field("record_key", _S, nullable=False),
        pa.field("mode", _S, nullable=False),
        pa.field("imported_at", _TS, nullable=False),
        pa.field("fields", _S, nullable=False),
    ]
)

IDENTITIES = _schema(("source", _S), ("record_key", _S), ("person_id", _S))

# Landing sources in the order they are written: (name, file format, schema).
SOURCES: tuple[tuple[str, str, pa.Schema], ...] = (
    ("crm_contacts", "csv", CRM_CONTACTS),
    ("web_signups", "parquet", WEB_SIGNUPS),
    ("shop_customers", "parquet", SHOP_CUSTOMERS),
    ("devices", "parquet", DEVICES),
    ("web_events", "parquet", WEB_EVENTS),
    ("orders", "parquet", ORDERS),
    ("order_items", "parquet", ORDER_ITEMS),
    ("message_events", "parquet", MESSAGE_EVENTS),
    ("subscriptions", "parquet", SUBSCRIPTIONS),
    ("profile_records", "parquet", PROFILE_RECORDS),
)
# Sources whose Parquet files dictionary-encode only these columns (the others: every column).
DICTIONARY_COLUMNS: dict[str, list[str]] = {
    "profile_records": ["database", "source", "import_id", "mode", "imported_at"],
}
SCHEMAS: dict[str, pa.Schema] = {name: schema for name, _format, schema in SOURCES}
FORMATS: dict[str, str] = {name: file_format for name, file_format, _schema in SOURCES}
# Sources whose records the truth file maps to persons, with their key column.
IDENTITY_SOURCES: tuple[tuple[str, str], ...] = (
    ("crm_contacts", "contact_id"),
    ("web_signups", "signup_id"),
    ("shop_customers", "customer_id"),
    ("devices", "device_id"),
)
