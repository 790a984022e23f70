"""`herald generate`: sample landing data that is deterministic, linear and realistic."""

from __future__ import annotations

import csv
import hashlib
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from herald.generate import GenerateError, GenerationReport, generate

PROFILES = 2_000
SEED = 42
END = date(2026, 11, 1)

S, TS = pa.string(), pa.timestamp("ms")
# The published columns of every Parquet source, as docs/landing.md lists them.
PARQUET_SCHEMAS: dict[str, list[tuple[str, pa.DataType]]] = {
    "web_signups": [
        ("signup_id", S), ("anonymous_id", S), ("email", S), ("phone", S), ("name", S),
        ("city", S), ("signed_up_at", TS), ("utm_source", S), ("utm_medium", S),
        ("utm_campaign", S), ("consent_email", pa.bool_()), ("consent_sms", pa.bool_()),
    ],
    "shop_customers": [
        ("customer_id", S), ("email", S), ("phone", S), ("first_name", S), ("last_name", S),
        ("birth_date", pa.date32()), ("city", S), ("registered_at", TS), ("updated_at", TS),
    ],
    "devices": [
        ("device_id", S), ("anonymous_id", S), ("customer_id", S), ("signup_id", S),
        ("platform", S), ("os", S), ("os_version", S), ("browser", S), ("app_version", S),
        ("push_token", S), ("first_seen_at", TS), ("last_seen_at", TS),
    ],
    "web_events": [
        ("message_id", S), ("type", S), ("event", S), ("anonymous_id", S), ("user_id", S),
        ("session_id", S), ("device_id", S), ("timestamp", TS), ("received_at", TS),
        ("url", S), ("path", S), ("title", S), ("referrer", S), ("utm_source", S),
        ("utm_medium", S), ("utm_campaign", S), ("utm_content", S), ("utm_term", S),
        ("product_id", S), ("category", S), ("brand", S), ("price", pa.float64()),
        ("goal", S), ("properties", S),
    ],
    "orders": [
        ("order_id", S), ("customer_id", S), ("created_at", TS), ("updated_at", TS),
        ("status", S), ("currency", S), ("total", pa.float64()), ("discount", pa.float64()),
        ("promo_code", S), ("channel", S), ("utm_source", S), ("utm_campaign", S),
    ],
    "order_items": [
        ("order_id", S), ("line_number", pa.int32()), ("product_id", S), ("product_name", S),
        ("category", S), ("brand", S), ("quantity", pa.int32()), ("unit_price", pa.float64()),
    ],
    "message_events": [
        ("event_id", S), ("message_id", S), ("campaign_id", S), ("channel", S),
        ("recipient", S), ("contact_id", S), ("event_type", S), ("occurred_at", TS),
        ("url", S), ("link_position", pa.int32()), ("bounce_type", S),
        ("smtp_code", pa.int32()), ("smtp_status", S), ("diagnostic", S), ("provider", S),
    ],
    "subscriptions": [
        ("contact_id", S), ("channel", S), ("resource", S), ("status", S),
        ("changed_at", TS), ("source", S),
    ],
}  # fmt: skip
CRM_COLUMNS = [
    "contact_id", "first_name", "last_name", "email", "phone", "birthday", "city", "gender",
    "loyalty_level", "loyalty_points", "created_at", "updated_at",
]  # fmt: skip
SOURCES = ["crm_contacts", *PARQUET_SCHEMAS]
# The profile records of the `customers` database are landing files too (one more table).
LANDING_TABLES = [*SOURCES, "profile_records"]


def fingerprints(home: Path) -> dict[str, str]:
    """sha256 of every file under home, by relative path."""
    return {
        str(path.relative_to(home)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(home.rglob("*"))
        if path.is_file()
    }


def landing(home: Path, source: str) -> pa.Table:
    folder = home / "landing" / source
    if source == "crm_contacts":
        rows: list[dict[str, str]] = []
        for path in sorted(folder.glob("gen-*.csv")):
            with path.open(newline="", encoding="utf-8") as handle:
                rows.extend(csv.DictReader(handle))
        return pa.Table.from_pylist(rows)
    return pa.concat_tables(pq.read_table(path) for path in sorted(folder.glob("gen-*.parquet")))


def truth(home: Path, seed: int = SEED) -> pa.Table:
    return pq.read_table(home / "truth" / f"identities-s{seed}.parquet")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationReport]:
    home = tmp_path_factory.mktemp("home")
    return home, generate(home, PROFILES, seed=SEED, end_date=END, workers=1)


@pytest.fixture(scope="module")
def home(generated: tuple[Path, GenerationReport]) -> Path:
    return generated[0]


# --- determinism and files ------------------------------------------------------------------
def test_same_arguments_give_byte_identical_files(home: Path, tmp_path: Path) -> None:
    generate(tmp_path, PROFILES, seed=SEED, end_date=END, workers=1)

    assert fingerprints(tmp_path) == fingerprints(home)


def test_another_seed_gives_other_data(home: Path, tmp_path: Path) -> None:
    generate(tmp_path, PROFILES, seed=SEED + 1, end_date=END, workers=1)

    assert not set(fingerprints(tmp_path).values()) & set(fingerprints(home).values())


def test_worker_processes_do_not_change_the_output(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    generate(one, 1_500, seed=5, workers=1, chunk_persons=600)
    generate(two, 1_500, seed=5, workers=2, chunk_persons=600)

    assert len(list((one / "landing" / "web_events").glob("gen-*"))) == 3
    assert fingerprints(one) == fingerprints(two)


def test_files_are_named_by_seed_and_chunk_and_no_temporary_files_remain(home: Path) -> None:
    names = {path.name for path in (home / "landing").rglob("*") if path.is_file()}

    assert names == {"gen-s42-00000.csv", "gen-s42-00000.parquet"}
    assert [p.name for p in (home / "truth").iterdir()] == ["identities-s42.parquet"]


def test_report_counts_what_was_written(generated: tuple[Path, GenerationReport]) -> None:
    home, report = generated

    assert report.rows == {source: landing(home, source).num_rows for source in LANDING_TABLES}
    assert all(path.exists() for path in report.files)
    assert report.rows_per_second == pytest.approx(report.total_rows / report.seconds)


def test_regeneration_replaces_generated_files_and_keeps_others(tmp_path: Path) -> None:
    generate(tmp_path, 300, seed=1, workers=1)
    own_file = tmp_path / "landing" / "orders" / "manual-export.parquet"
    own_file.write_bytes(b"not ours")

    generate(tmp_path, 300, seed=2, workers=1)

    generated_files = sorted(p.name for p in (tmp_path / "landing").rglob("gen-*"))
    assert generated_files and all(name.startswith("gen-s2-") for name in generated_files)
    assert own_file.read_bytes() == b"not ours"


def test_bad_arguments_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match="at least 1"):
        generate(tmp_path, 0)


# --- size --------------------------------------------------------------------------------------
def test_counts_grow_linearly_with_profiles(
    generated: tuple[Path, GenerationReport], tmp_path: Path
) -> None:
    small = generated[1].rows
    large = generate(tmp_path, 4 * PROFILES, seed=SEED, end_date=END, workers=1).rows

    ratios = {source: large[source] / small[source] for source in SOURCES}
    assert all(3.4 <= ratio <= 4.6 for ratio in ratios.values()), ratios


def test_volumes_per_person_are_as_documented(generated: tuple[Path, GenerationReport]) -> None:
    per_person = {source: rows / PROFILES for source, rows in generated[1].rows.items()}

    assert 0.55 <= per_person["crm_contacts"] <= 0.7
    assert 0.42 <= per_person["web_signups"] <= 0.58
    assert 0.38 <= per_person["shop_customers"] <= 0.52
    assert 5.5 <= per_person["web_events"] <= 9.0
    assert 0.6 <= per_person["orders"] <= 1.0
    assert 2.0 <= per_person["message_events"] <= 4.0
    assert 1.2 <= per_person["subscriptions"] <= 1.8


# --- schemas -------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", sorted(PARQUET_SCHEMAS))
def test_parquet_sources_have_exactly_the_published_columns(home: Path, source: str) -> None:
    schema = pq.read_schema(next((home / "landing" / source).glob("gen-*.parquet")))

    assert [(field.name, field.type) for field in schema] == PARQUET_SCHEMAS[source]


def test_crm_export_is_csv_with_the_published_header(home: Path) -> None:
    raw = next((home / "landing" / "crm_contacts").glob("gen-*.csv")).read_bytes()

    assert raw.decode("utf-8").split("\r\n", 1)[0].split(",") == CRM_COLUMNS
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_truth_file_has_the_published_columns(home: Path) -> None:
    assert truth(home).schema == pa.schema([("source", S), ("record_key", S), ("person_id", S)])


# --- truth ---------------------------------------------------------------------------------------
KEYS = {
    "crm_contacts": "contact_id",
    "web_signups": "signup_id",
    "shop_customers": "customer_id",
    "devices": "device_id",
}


def test_truth_maps_every_record_exactly_once(home: Path) -> None:
    identities = truth(home)

    for source, key in KEYS.items():
        mapped = identities.filter(pc.equal(identities["source"], source))["record_key"]
        records = landing(home, source)[key]
        assert sorted(mapped.to_pylist()) == sorted(records.to_pylist()), source
    assert pc.count_distinct(identities["record_key"]).as_py() == identities.num_rows


def test_every_person_is_in_at_least_one_profile_source(home: Path) -> None:
    identities = truth(home)
    profiles = identities.filter(pc.not_equal(identities["source"], "devices"))
    person_ids = set(profiles["person_id"].to_pylist())

    assert len(person_ids) == PROFILES
    assert all(re.fullmatch(r"P-\d{8}", person_id) for person_id in person_ids)
    assert set(identities["person_id"].to_pylist()) == person_ids


def _normalised_identities(home: Path) -> dict[str, tuple[str | None, str | None]]:
    """record_key -> (email lowercased and stripped, last 10 digits of the phone)."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for source, key in list(KEYS.items())[:3]:
        table = landing(home, source)
        for row in table.select([key, "email", "phone"]).to_pylist():
            email = (row["email"] or "").strip().lower() or None
            digits = re.sub(r"\D", "", row["phone"] or "")[-10:] or None
            found[row[key]] = (email, digits)
    return found


def test_records_of_one_person_mostly_share_an_email_or_phone(home: Path) -> None:
    identities = _normalised_identities(home)
    by_person: dict[str, list[str]] = {}
    for row in truth(home).to_pylist():
        if row["source"] != "devices":
            by_person.setdefault(row["person_id"], []).append(row["record_key"])
    linked = pairs = 0
    for keys in by_person.values():
        for position, first in enumerate(keys):
            for second in keys[position + 1 :]:
                (email_a, phone_a), (email_b, phone_b) = identities[first], identities[second]
                pairs += 1
                linked += bool((email_a and email_a == email_b) or (phone_a and phone_a == phone_b))

    assert pairs > PROFILES / 2
    assert 0.75 <= linked / pairs < 1.0  # mostly linkable, but not trivially so


def test_the_same_person_is_written_differently_across_sources(home: Path) -> None:
    identities = _normalised_identities(home)
    raw_emails = set(landing(home, "crm_contacts")["email"].to_pylist())
    normalised = {email for email, _phone in identities.values() if email}

    assert any(email and email != email.strip() for email in raw_emails)
    assert any(email and email != email.lower() for email in raw_emails)
    assert any(re.search(r"@(gmial\.com|mail\.ry|yandex\.ry|gmai\.com)$", e) for e in normalised)


# --- realism -------------------------------------------------------------------------------------
def test_every_time_falls_in_the_two_years_before_the_end_date(home: Path) -> None:
    start, end = datetime(2024, 11, 1), datetime(2026, 11, 1)
    assert END - timedelta(days=730) == start.date()
    for source, columns in PARQUET_SCHEMAS.items():
        table = landing(home, source)
        for name, value_type in columns:
            if value_type == TS:
                low, high = pc.min_max(table[name]).values()
                assert start <= low.as_py() and high.as_py() < end, (source, name)
    crm = landing(home, "crm_contacts")
    for name in ("created_at", "updated_at"):
        values = crm[name].to_pylist()
        assert str(start) <= min(values) and max(values) < str(end)


def test_web_events_have_a_few_exact_duplicates(home: Path) -> None:
    events = landing(home, "web_events")
    distinct = pc.count_distinct(events["message_id"]).as_py()
    duplicates = events.num_rows - distinct

    assert 0 < duplicates < events.num_rows * 0.005
    assert events.group_by(events.column_names).aggregate([]).num_rows == distinct


def test_sessions_start_with_a_page_and_funnels_narrow(home: Path) -> None:
    events = landing(home, "web_events")
    counts = {row["values"]: row["counts"] for row in pc.value_counts(events["event"]).to_pylist()}
    first_events = (
        events.group_by("session_id", use_threads=False)
        .aggregate([("type", "first")])["type_first"]
        .to_pylist()
    )

    assert set(first_events) == {"page"}
    funnel = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
    assert [counts[step] for step in funnel] == sorted((counts[s] for s in funnel), reverse=True)
    assert counts["Order Completed"] > 0


def test_order_totals_follow_their_lines(home: Path) -> None:
    orders = landing(home, "orders").to_pylist()
    subtotal: dict[str, float] = {}
    for item in landing(home, "order_items").to_pylist():
        amount = item["quantity"] * item["unit_price"]
        subtotal[item["order_id"]] = subtotal.get(item["order_id"], 0.0) + amount

    for order in orders:
        expected = round(subtotal[order["order_id"]] - order["discount"], 2)
        assert order["total"] == pytest.approx(expected, abs=0.005)


def test_online_orders_match_order_completed_events(home: Path) -> None:
    events = landing(home, "web_events")
    completed = events.filter(pc.equal(events["event"], "Order Completed"))["properties"]
    order_ids = {re.findall(r'"order_id":"([^"]+)"', p)[0] for p in completed.to_pylist()}
    orders = landing(home, "orders")
    online = orders.filter(pc.not_equal(orders["channel"], "store"))

    assert order_ids == set(online["order_id"].to_pylist())


def test_every_message_is_sent_and_a_few_emails_bounce(home: Path) -> None:
    events = landing(home, "message_events").to_pylist()
    types: dict[str, set[str]] = {}
    for event in events:
        types.setdefault(event["message_id"], set()).add(event["event_type"])
    emails = {event["message_id"] for event in events if event["channel"] == "email"}
    bounced = sum("bounced" in types[message] for message in emails) / len(emails)

    assert all("sent" in kinds for kinds in types.values())
    assert 0.005 <= bounced <= 0.05
    for event in events:
        if event["event_type"] == "bounced":
            hard = event["bounce_type"] == "hard"
            assert event["bounce_type"] in ("hard", "soft")
            assert event["smtp_code"] in (550, 551, 552, 553, 554, 421, 450, 451, 452)
            assert event["smtp_status"].startswith("5." if hard else ("4.", "5.2.2"))
