"""The sample data as records of the profile database `customers` (docs/schemas/customers.yml).

Every CRM contact, web sign-up, shop customer and identified device of a chunk becomes one
raw profile record (landing table `profile_records`, the columns herald/profiles/records.py
writes), with its field values normalised as an import would store them: e-mail stripped
and lower-cased, phones in E.164, dates and times in ISO, CRM genders as `f`/`m`. Each record
carries its source id as an identifier (`crm_id`, `web_id`, `shop_id`; a device the id of the
account it was identified by), so the profiles link the person's events, orders and
messages. The `fields` JSON text is built column by column with Arrow string kernels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from herald.generate import text
from herald.generate.commerce import Orders
from herald.generate.devices import ANONYMOUS, Devices
from herald.generate.people import People, e164
from herald.generate.records import CrmContacts

DATABASE = "customers"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "customers.yml"
ROWS_PER_CHUNK = 10_000_000  # a chunk's records are numbered chunk * ROWS_PER_CHUNK + 1, …
MODE = "upsert"

_GENDER_WRITTEN = pa.array(["m", "f", "м", "ж"], pa.string())
_GENDER_VALUE = pa.array(["m", "f", "m", "f"], pa.string())
_ESCAPED = r'["\\\x00-\x1f]'  # what JSON escapes: quote, backslash, controls


def import_id(seed: int) -> str:
    """The import every generated record of a seed belongs to."""
    return f"gen-s{seed}"


@dataclass(frozen=True)
class SourceRecords:
    """One source's records: key, time of last change (orders the golden record) and fields
    as JSON value texts (null where the record has no value)."""

    source: str
    record_key: pa.Array
    changed_ms: np.ndarray
    fields: Mapping[str, pa.Array]


# --- JSON values ------------------------------------------------------------------------------
def json_string(values: pa.Array) -> pa.Array:
    """Each text as a JSON string, non-ASCII kept (as json.dumps(ensure_ascii=False))."""
    needs_escape = pc.match_substring_regex(values, _ESCAPED)
    if not pc.any(pc.fill_null(needs_escape, False)).as_py():
        return quoted(values)
    encoded = [None if value is None else _json_str(value) for value in values.to_pylist()]
    return pa.array(encoded, pa.string())


def quoted(values: pa.Array) -> pa.Array:
    """Texts that need no escaping (generated ids, ISO dates, E.164 numbers) as JSON strings."""
    return text.concat('"', values, '"')


def _json_str(value: str) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def json_boolean(values: np.ndarray) -> pa.Array:
    return text.pick(pa.array(["false", "true"], pa.string()), values.astype(np.int64))


def json_string_list(lists: pa.ListArray) -> pa.Array:
    """Each list of texts as a JSON array; null where the list is empty."""
    items = pa.ListArray.from_arrays(lists.offsets, json_string(lists.flatten()))
    joined = text.concat("[", pc.binary_join(items, ", "), "]")
    return text.null_where(joined, pc.list_value_length(lists).to_numpy() == 0)


def iso_date(days: np.ndarray) -> pa.Array:
    return text.fill_template("####-##-##", text.date_digits(days, "ymd"))


def iso_datetime(ms: np.ndarray) -> pa.Array:
    """'YYYY-MM-DDTHH:MM:SS' (naive UTC), as the import writes a datetime."""
    return pc.replace_substring(text.timestamp_text(ms), " ", "T", max_replacements=1)


def clean_text(values: pa.Array) -> pa.Array:
    """Surrounding spaces stripped, as the import's string normaliser does; empty → null."""
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def clean_email(values: pa.Array) -> pa.Array:
    return clean_text(pc.utf8_lower(pc.utf8_trim_whitespace(values)))


def phone_e164(person: People, rows: np.ndarray, written: pa.Array) -> pa.Array:
    """The person's number in E.164 where the record has a phone."""
    numbers = e164(person.phone_kind[rows], person.phone_digits[rows])
    return pc.if_else(pc.is_null(written), pa.scalar(None, pa.string()), numbers)


def _array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _ms(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False), np.int64)


# --- records per source -----------------------------------------------------------------------
def crm_records(crm: CrmContacts, person: People) -> SourceRecords:
    table = crm.table
    rows = crm.person
    birthday = table["birthday"].combine_chunks()
    updated = pc.strptime(table["updated_at"], format="%Y-%m-%d %H:%M:%S", unit="ms")
    return SourceRecords(
        source="crm",
        record_key=crm.contact_id,
        changed_ms=_ms(updated),
        fields={
            "crm_id": quoted(crm.contact_id),
            "email": json_string(crm.email_normalised),
            "phone": quoted(phone_e164(person, rows, table["phone"].combine_chunks())),
            "first_name": json_string(clean_text(table["first_name"].combine_chunks())),
            "last_name": json_string(clean_text(table["last_name"].combine_chunks())),
            "birth_date": quoted(
                text.null_where(
                    iso_date(person.birth_day[rows]), pc.is_null(birthday).to_numpy(False)
                )
            ),
            "city": json_string(clean_text(table["city"].combine_chunks())),
            "gender": quoted(
                _GENDER_VALUE.take(pc.index_in(table["gender"], value_set=_GENDER_WRITTEN))
            ),
            "loyalty_level": quoted(table["loyalty_level"].combine_chunks()),
            "loyalty_points": table["loyalty_points"].combine_chunks(),
            "registered_at": quoted(iso_datetime(crm.created_ms)),
        },
    )


def web_records(signups: pa.Table, rows: np.ndarray, person: People) -> SourceRecords:
    """`signups`: the web_signups landing table; `rows`: each sign-up's person row."""
    names = pc.extract_regex(
        pc.utf8_trim_whitespace(signups["name"].combine_chunks()),
        r"^(?P<first>\S+)(?: +(?P<last>.+))?$",
    )
    signed_up = _ms(signups["signed_up_at"])
    return SourceRecords(
        source="web",
        record_key=signups["signup_id"].combine_chunks(),
        changed_ms=signed_up,
        fields={
            "web_id": quoted(signups["signup_id"].combine_chunks()),
            "email": json_string(clean_email(signups["email"].combine_chunks())),
            "phone": quoted(phone_e164(person, rows, signups["phone"].combine_chunks())),
            "first_name": json_string(clean_text(names.field("first"))),
            "last_name": json_string(clean_text(names.field("last"))),
            "city": json_string(clean_text(signups["city"].combine_chunks())),
            "registered_at": quoted(iso_datetime(signed_up)),
            "email_consent": json_boolean(signups["consent_email"].to_numpy()),
            "sms_consent": json_boolean(signups["consent_sms"].to_numpy()),
        },
    )


def shop_records(
    customers: pa.Table, rows: np.ndarray, person: People, interests: pa.ListArray
) -> SourceRecords:
    """`customers`: the shop_customers landing table; `rows`: each account's person row;
    `interests`: each account's ordered categories."""
    return SourceRecords(
        source="shop",
        record_key=customers["customer_id"].combine_chunks(),
        changed_ms=_ms(customers["updated_at"]),
        fields={
            "shop_id": quoted(customers["customer_id"].combine_chunks()),
            "email": json_string(clean_email(customers["email"].combine_chunks())),
            "phone": quoted(phone_e164(person, rows, customers["phone"].combine_chunks())),
            "first_name": json_string(clean_text(customers["first_name"].combine_chunks())),
            "last_name": json_string(clean_text(customers["last_name"].combine_chunks())),
            "birth_date": quoted(pc.cast(customers["birth_date"], pa.string())),
            "city": json_string(clean_text(customers["city"].combine_chunks())),
            "registered_at": quoted(iso_datetime(_ms(customers["registered_at"]))),
            "tags": json_string_list(interests),
        },
    )


def device_records(devices: Devices, table: pa.Table) -> SourceRecords:
    """The devices identified by a web sign-up or a shop account (`table`: the devices
    landing table), each linked to that account by its id."""
    identified = pa.array(devices.identified_by != ANONYMOUS)
    known = table.filter(identified)
    return SourceRecords(
        source="device",
        record_key=known["device_id"].combine_chunks(),
        changed_ms=_ms(known["last_seen_at"]),
        fields={
            "device_id": quoted(known["device_id"].combine_chunks()),
            "anonymous_id": quoted(known["anonymous_id"].combine_chunks()),
            "push_token": quoted(known["push_token"].combine_chunks()),
            "shop_id": quoted(known["customer_id"].combine_chunks()),
            "web_id": quoted(known["signup_id"].combine_chunks()),
        },
    )


def ordered_categories(orders: Orders, customers: int) -> pa.ListArray:
    """Per shop customer row: the categories of everything it ordered, sorted, each once."""
    items = orders.items
    item_order = pc.index_in(items["order_id"], value_set=orders.orders["order_id"])
    item_customer = orders.customer[np.asarray(item_order.to_numpy(False), np.int64)]
    categories = pc.unique(items["category"].combine_chunks()).sort()
    category = np.asarray(
        pc.index_in(items["category"], value_set=categories).to_numpy(False), np.int64
    )
    width = max(len(categories), 1)
    pairs = np.unique(item_customer.astype(np.int64) * width + category)
    owner, chosen = pairs // width, pairs % width
    offsets = np.searchsorted(owner, np.arange(customers + 1)).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), categories.take(pa.array(chosen)))


# --- the landing table --------------------------------------------------------------------------
def fields_json(fields: Mapping[str, pa.Array], rows: int) -> pa.Array:
    """The `fields` JSON object of each row: its non-null members, keys sorted."""
    members = [text.concat(f'"{name}": ', _array(fields[name])) for name in sorted(fields)]
    if not members:
        return text.constant("{}", rows)
    joined = pc.binary_join_element_wise(*members, ", ", null_handling="skip")
    return text.concat("{", joined, "}")


def landing_table(
    sources: list[SourceRecords], *, chunk: int, seed: int, imported_ms: int
) -> pa.Table:
    """The chunk's records of every source, in order of their last change (so the golden
    record takes the latest values), numbered chunk * ROWS_PER_CHUNK + 1, + 2, …"""
    keys = pa.concat_arrays([records.record_key for records in sources])
    source = pa.concat_arrays(
        [text.constant(records.source, len(records.record_key)) for records in sources]
    )
    fields = pa.concat_arrays(
        [fields_json(records.fields, len(records.record_key)) for records in sources]
    )
    changed = np.concatenate([records.changed_ms for records in sources])
    order = pa.array(np.argsort(changed, kind="stable"))
    count = len(keys)
    stamp = datetime.fromtimestamp(imported_ms / 1000, UTC).replace(tzinfo=None)
    return pa.table(
        {
            "database": text.constant(DATABASE, count),
            "source": source.take(order),
            "import_id": text.constant(import_id(seed), count),
            "row_number": pa.array(
                chunk * ROWS_PER_CHUNK + np.arange(1, count + 1, dtype=np.int64), pa.int64()
            ),
            "record_key": keys.take(order),
            "mode": text.constant(MODE, count),
            "imported_at": pa.repeat(pa.scalar(stamp, pa.timestamp("ms")), count),
            "fields": fields.take(order),
        }
    )
