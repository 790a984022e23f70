"""Segment benchmark on generated data: 20 segments, compiled against hand-written SQL.

    python -m tests.benchmarks.bench_segments --home DIR --profiles 1000000 [--engine duckdb chdb]

1. Setup, reused when DIR already holds it (marker files `generated.json`,
   `materialized-<engine>.json`): `herald generate --profiles N`, then `herald materialize`
   per engine (HERALD_WAREHOUSE=duckdb://DIR/warehouse.duckdb or chdb://DIR/warehouse-chdb),
   timed; row counts of the segment inputs and the disk they take.
2. Per engine, in a process of its own (its peak RSS is the measurement's):
   - every segment refreshed twice with `refresh_segment` (SegmentInfo built here, no store):
     the first pass fills the public tables (everyone enters), the second is the steady
     state of a scheduled refresh; both totals are reported;
   - per segment, the compiled members query and a hand-written query for the same
     definition (joins, group-bys, exists over the same input tables, in the engine's
     dialect) return the same profile ids (symmetric difference 0), then are timed side by
     side, alternating, as `select count(*) from (...)` on one held connection: one
     warm-up, median of `--repeat`;
   - `estimate` of 3 unsaved definitions: one warm-up, median of `--repeat`.
Prints one JSON document; run_all writes it to results/segments.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SEED = 42
DATABASE = "customers"
# The generator's history ends on 2026-11-01: relative windows are taken the next midnight.
AS_OF = datetime(2026, 11, 2, tzinfo=UTC)
INPUT_TABLES = (
    f"segment_profiles__{DATABASE}",
    "profile_events",
    "profile_orders",
    "profile_order_items",
    "profile_message_events",
    "profile_devices",
    "profile_subscription_states",
    "profile_relation_edges",
)


@dataclass(frozen=True)
class Case:
    """A segment definition, the kinds of condition it exercises, and the analyst's query
    for it per dialect (`{placeholders}`: tables and times, see `placeholders`)."""

    name: str
    kinds: str
    where: dict[str, Any]
    duckdb: str
    clickhouse: str | None = None  # None: the DuckDB text is valid ClickHouse too


def window(days: int) -> dict[str, Any]:
    return {"within_last_days": days}


CASES: tuple[Case, ...] = (
    Case(
        "gold-capitals",
        "field equals, field in",
        {
            "all": [
                {"field": "loyalty_level", "op": "equals", "value": "gold"},
                {"field": "city", "op": "in", "value": ["Москва", "Санкт-Петербург"]},
            ]
        },
        """select profile_id from {profiles}
where loyalty_level = 'gold' and city in ('Москва', 'Санкт-Петербург')""",
    ),
    Case(
        "yandex-mail-consented",
        "field contains, boolean equals",
        {
            "all": [
                {"field": "email", "op": "contains", "value": "@yandex"},
                {"field": "email_consent", "op": "equals", "value": True},
            ]
        },
        "select profile_id from {profiles} where email ilike '%@yandex%' and email_consent",
        """select profile_id from {profiles}
where positionCaseInsensitiveUTF8(email, '@yandex') > 0 and email_consent""",
    ),
    Case(
        "birthday-this-week",
        "field anniversary_within_days",
        {"field": "birth_date", "op": "anniversary_within_days", "value": 7},
        """select profile_id from {profiles}
where strftime(birth_date, '%m-%d') between '11-02' and '11-09'""",
        """select profile_id from {profiles}
where formatDateTime(birth_date, '%m-%d') between '11-02' and '11-09'""",
    ),
    Case(
        "new-mid-points",
        "field within_last_days, field between",
        {
            "all": [
                {"field": "registered_at", "op": "within_last_days", "value": 90},
                {"field": "loyalty_points", "op": "between", "value": [100, 2000]},
            ]
        },
        """select profile_id from {profiles}
where registered_at between {d90} and {now} and loyalty_points between 100 and 2000""",
    ),
    Case(
        "smartphone-viewers-90d",
        "event count with property filter and window",
        {
            "event": "Product Viewed",
            "where": [{"property": "category", "op": "equals", "value": "Smartphones"}],
            "period": window(90),
            "op": "at_least",
            "value": 2,
        },
        """select profile_id from {events}
where database = 'customers' and event_name = 'Product Viewed' and category = 'Smartphones'
  and occurred_at between {d90} and {now}
group by profile_id having count(*) >= 2""",
    ),
    Case(
        "abandoned-cart-14d",
        "event performed, event did not perform (window)",
        {
            "all": [
                {"event": "Product Added", "period": window(14)},
                {"event": "Order Completed", "performed": False, "period": window(14)},
            ]
        },
        """select profile_id from {events}
where database = 'customers' and event_name in ('Product Added', 'Order Completed')
  and occurred_at between {d14} and {now}
group by profile_id
having count(*) filter (where event_name = 'Product Added') > 0
   and count(*) filter (where event_name = 'Order Completed') = 0""",
        """select profile_id from {events}
where database = 'customers' and event_name in ('Product Added', 'Order Completed')
  and occurred_at between {d14} and {now}
group by profile_id
having countIf(event_name = 'Product Added') > 0
   and countIf(event_name = 'Order Completed') = 0""",
    ),
    Case(
        "high-value-browsers-90d",
        "event sum of price",
        {
            "event": "Product Viewed",
            "measure": "sum",
            "property": "price",
            "period": window(90),
            "op": "greater",
            "value": 100000,
        },
        """select profile_id from {events}
where database = 'customers' and event_name = 'Product Viewed'
  and occurred_at between {d90} and {now}
group by profile_id having sum(price) > 100000""",
    ),
    Case(
        "big-basket-avg",
        "event avg of a JSON property",
        {
            "event": "Order Completed",
            "measure": "avg",
            "property": "properties.total",
            "op": "at_least",
            "value": 30000,
        },
        """select profile_id from {events}
where database = 'customers' and event_name = 'Order Completed'
group by profile_id
having avg(try_cast(json_extract_string(properties, '$.total') as double)) >= 30000""",
        """select profile_id from {events}
where database = 'customers' and event_name = 'Order Completed'
group by profile_id
having avg(toFloat64OrNull(JSONExtractRaw(properties, 'total'))) >= 30000""",
    ),
    Case(
        "long-time-active",
        "event first, event last",
        {
            "all": [
                {
                    "event": "Page Viewed",
                    "measure": "first",
                    "op": "more_than_days_ago",
                    "value": 365,
                },
                {"event": "Page Viewed", "measure": "last", "op": "within_last_days", "value": 30},
            ]
        },
        """select profile_id from {events}
where database = 'customers' and event_name = 'Page Viewed'
group by profile_id
having min(occurred_at) < {d365} and max(occurred_at) between {d30} and {now}""",
    ),
    Case(
        "repeat-delivered",
        "order count with status",
        {"order": "count", "status": ["delivered"], "op": "at_least", "value": 3},
        """select profile_id from {orders}
where database = 'customers' and status = 'delivered'
group by profile_id having count(*) >= 3""",
    ),
    Case(
        "top-spenders-year",
        "order total with status and window",
        {
            "order": "total",
            "status": ["paid", "shipped", "delivered"],
            "period": window(365),
            "op": "greater",
            "value": 150000,
        },
        """select profile_id from {orders}
where database = 'customers' and status in ('paid', 'shipped', 'delivered')
  and created_at between {d365} and {now}
group by profile_id having sum(total) > 150000""",
    ),
    Case(
        "mid-basket",
        "order average between",
        {"order": "average", "op": "between", "value": [3000, 15000]},
        """select profile_id from {orders} where database = 'customers'
group by profile_id having avg(total) between 3000 and 15000""",
    ),
    Case(
        "lapsed-buyers",
        "order last more_than_days_ago",
        {"order": "last", "op": "more_than_days_ago", "value": 180},
        """select profile_id from {orders} where database = 'customers'
group by profile_id having max(created_at) < {d180}""",
    ),
    Case(
        "laptop-tablet-buyers",
        "bought category with status and window",
        {
            "bought": {"category": ["Laptops", "Tablets"]},
            "status": ["paid", "shipped", "delivered"],
            "period": window(365),
        },
        """select distinct profile_id from {items}
where database = 'customers' and category in ('Laptops', 'Tablets')
  and status in ('paid', 'shipped', 'delivered') and created_at between {d365} and {now}""",
    ),
    Case(
        "brand-fans-no-returns",
        "bought brand, not order count",
        {
            "all": [
                {"bought": {"brand": ["Raven", "Vyatka"]}},
                {"not": {"order": "count", "status": ["returned"], "op": "at_least", "value": 1}},
            ]
        },
        """select distinct i.profile_id from {items} as i
where i.database = 'customers' and i.brand in ('Raven', 'Vyatka')
  and not exists (select 1 from {orders} as o where o.database = 'customers'
                  and o.profile_id = i.profile_id and o.status = 'returned')""",
        """select distinct profile_id from {items}
where database = 'customers' and brand in ('Raven', 'Vyatka')
  and profile_id not in (select profile_id from {orders}
                         where database = 'customers' and status = 'returned')""",
    ),
    Case(
        "ios-push-email-subscribers",
        "subscription, device platform with push token",
        {
            "all": [
                {"subscription": "email", "resource": "newsletter", "status": "subscribed"},
                {"device": {"platform": ["ios"], "has_push_token": True}},
            ]
        },
        """select s.profile_id from {subscriptions} as s
where s.database = 'customers' and s.channel = 'email' and s.resource = 'newsletter'
  and s.status = 'subscribed'
  and exists (select 1 from {devices} as d where d.database = 'customers'
              and d.profile_id = s.profile_id and d.platform = 'ios'
              and d.push_token <> '')""",
        """select distinct s.profile_id from {subscriptions} as s
where s.database = 'customers' and s.channel = 'email' and s.resource = 'newsletter'
  and s.status = 'subscribed'
  and s.profile_id in (select profile_id from {devices} where database = 'customers'
                       and platform = 'ios' and push_token <> '')""",
    ),
    Case(
        "coffee-newsletter",
        "goal in window, interest in window",
        {
            "all": [
                {"goal": "newsletter_signup", "period": window(365)},
                {"interest": {"category": "Coffee Machines"}, "period": window(365)},
            ]
        },
        """select profile_id from {events}
where database = 'customers' and (
    (goal = 'newsletter_signup' and occurred_at between {d365} and {now})
    or (event_name = 'Product Viewed' and category = 'Coffee Machines'
        and occurred_at between {d365} and {now}))
group by profile_id
having count(*) filter (where goal = 'newsletter_signup') > 0
   and count(*) filter (where event_name = 'Product Viewed'
                        and category = 'Coffee Machines') > 0""",
        """select profile_id from {events}
where database = 'customers' and (
    (goal = 'newsletter_signup' and occurred_at between {d365} and {now})
    or (event_name = 'Product Viewed' and category = 'Coffee Machines'
        and occurred_at between {d365} and {now}))
group by profile_id
having countIf(goal = 'newsletter_signup') > 0
   and countIf(event_name = 'Product Viewed' and category = 'Coffee Machines') > 0""",
    ),
    Case(
        "email-engaged",
        "any of message opened (channel, 30 d) / clicked (60 d)",
        {
            "any": [
                {"message": "opened", "channel": "email", "period": window(30)},
                {"message": "clicked", "period": window(60)},
            ]
        },
        """select distinct profile_id from {messages}
where database = 'customers' and (
    (event_type = 'opened' and channel = 'email' and occurred_at between {d30} and {now})
    or (event_type = 'clicked' and occurred_at between {d60} and {now}))""",
    ),
    Case(
        "campaign-clickers-promo",
        "message clicked of a campaign, promo code redeemed",
        {
            "all": [
                {"message": "clicked", "campaign": "{campaign}"},
                {"promo_code": "redeemed", "period": window(365)},
            ]
        },
        """select distinct m.profile_id from {messages} as m
join {orders} as o on o.database = m.database and o.profile_id = m.profile_id
where m.database = 'customers' and m.event_type = 'clicked' and m.campaign_id = '{campaign}'
  and o.promo_code <> '' and o.created_at between {d365} and {now}""",
    ),
    Case(
        "spring-test-vip",
        "segment, bucket, nested all/any/not, list contains, device browser",
        {
            "all": [
                {"segment": "repeat-delivered"},
                {"bucket": {"from": 0, "to": 50}, "salt": "spring-test"},
                {
                    "any": [
                        {"field": "tags", "op": "contains", "value": "Sneakers"},
                        {"not": {"device": {"browser": ["Safari"]}}},
                    ]
                },
            ]
        },
        """select p.profile_id from {profiles} as p
join {members} as m on m.profile_id = p.profile_id and m.segment_id = 'repeat-delivered'
where cast(('0x' || substr(md5('spring-test:' || p.profile_id), 1, 8)) as ubigint) % 100 < 50
  and (list_contains(p.tags, 'Sneakers')
       or not exists (select 1 from {devices} as d where d.database = 'customers'
                      and d.profile_id = p.profile_id and d.browser = 'Safari'))""",
        """select p.profile_id from {profiles} as p
where p.profile_id in (select profile_id from {members} where segment_id = 'repeat-delivered')
  and reinterpretAsUInt32(reverse(substring(MD5(concat('spring-test:', p.profile_id)), 1, 4)))
      % 100 < 50
  and (has(p.tags, 'Sneakers')
       or p.profile_id not in (select profile_id from {devices}
                               where database = 'customers' and browser = 'Safari'))""",
    ),
)

ESTIMATES: tuple[dict[str, Any], ...] = (
    {"field": "loyalty_level", "op": "in", "value": ["silver", "gold"]},
    {"event": "Product Viewed", "where": [{"property": "brand", "op": "equals",
     "value": "Raven"}], "period": window(90), "op": "at_least", "value": 2},
    {"all": [
        {"order": "count", "op": "at_least", "value": 2},
        {"any": [{"message": "opened", "period": window(90)},
                 {"device": {"platform": ["android"]}}]},
        {"not": {"field": "city", "op": "equals", "value": "Москва"}},
    ]},
)  # fmt: skip


# --- setup ------------------------------------------------------------------------------------
def warehouse_url(engine: str, home: Path) -> str:
    if engine == "duckdb":
        return f"duckdb://{home / 'warehouse.duckdb'}"
    return f"chdb://{home / 'warehouse-chdb'}"


def disk_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def herald_command(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    herald = Path(sys.executable).with_name("herald")
    return subprocess.run([str(herald), *args], env=env, cwd=REPO, capture_output=True, text=True)


def setup_generate(home: Path, profiles: int) -> dict[str, Any]:
    """`herald generate` into `home`, unless its marker says it holds `profiles` already."""
    marker = home / "generated.json"
    if marker.exists():
        recorded = json.loads(marker.read_text())
        if recorded["profiles"] == profiles:
            return {**recorded, "reused": True}
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "HERALD_HOME": str(home)}
    env.pop("HERALD_WAREHOUSE", None)
    started = time.perf_counter()
    completed = herald_command(["generate", "--profiles", str(profiles), "--seed", str(SEED)], env)
    if completed.returncode != 0:
        raise SystemExit(f"herald generate failed:\n{completed.stderr[-3000:]}")
    recorded = {
        "profiles": profiles,
        "generate_seconds": round(time.perf_counter() - started, 2),
        "landing_bytes": disk_bytes(home / "landing"),
    }
    marker.write_text(json.dumps(recorded, indent=2) + "\n")
    return {**recorded, "reused": False}


def setup_materialize(home: Path, engine: str) -> dict[str, Any]:
    """`herald materialize` on `engine`, unless its marker says it ran already."""
    marker = home / f"materialized-{engine}.json"
    if marker.exists():
        return {**json.loads(marker.read_text()), "reused": True}
    env = {**os.environ, "HERALD_HOME": str(home), "HERALD_WAREHOUSE": warehouse_url(engine, home)}
    started = time.perf_counter()
    completed = herald_command(["materialize"], env)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(
            f"herald materialize on {engine} failed:\n{completed.stdout[-3000:]}\n"
            f"{completed.stderr[-3000:]}"
        )
    path = home / ("warehouse.duckdb" if engine == "duckdb" else "warehouse-chdb")
    recorded = {
        "engine": engine,
        "materialize_seconds": round(seconds, 2),
        "warehouse_bytes": disk_bytes(path),
        "log": completed.stdout.strip().splitlines()[-60:],
    }
    marker.write_text(json.dumps(recorded, indent=2) + "\n")
    return {**recorded, "reused": False}


# --- measurement (one engine per process) ------------------------------------------------------
def open_engine(engine: str, home: Path) -> Any:
    if engine == "duckdb":
        from herald.warehouse.duckdb_engine import DuckDBWarehouse

        return DuckDBWarehouse(home / "warehouse.duckdb")
    from herald.warehouse.chdb_engine import ChdbWarehouse

    return ChdbWarehouse(home / "warehouse-chdb")


def placeholders(warehouse: Any, campaign: str) -> dict[str, str]:
    def moment(days: int) -> str:
        text = (AS_OF - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
        if warehouse.dialect == "clickhouse":
            return f"toDateTime64('{text}', 6, 'UTC')"
        return f"timestamp '{text}'"

    tables = {
        "profiles": f"segment_profiles__{DATABASE}",
        "events": "profile_events",
        "orders": "profile_orders",
        "items": "profile_order_items",
        "messages": "profile_message_events",
        "devices": "profile_devices",
        "subscriptions": "profile_subscription_states",
        "members": "segment_members",
    }
    values = {key: warehouse.qualify(table) for key, table in tables.items()}
    values["now"] = moment(0)
    for days in (14, 30, 60, 90, 180, 365):
        values[f"d{days}"] = moment(days)
    values["campaign"] = campaign
    return values


def fill(document: Any, campaign: str) -> Any:
    """The document with `{campaign}` replaced by a real campaign id."""
    if isinstance(document, dict):
        return {key: fill(value, campaign) for key, value in document.items()}
    if isinstance(document, list):
        return [fill(value, campaign) for value in document]
    if document == "{campaign}":
        return campaign
    return document


def busiest_campaign(warehouse: Any) -> str:
    """The campaign with the most clicks: a realistic target for a retargeting segment."""
    return str(
        warehouse.scalar(
            "select campaign_id from (select campaign_id, count(*) as clicks from "
            f"{warehouse.qualify('profile_message_events')} where event_type = 'clicked' "
            "group by campaign_id) as c order by clicks desc, campaign_id limit 1"
        )
    )


class QueryClient:
    """Runs the side-by-side queries on one connection held throughout (DuckDB's warehouse
    opens the file per call; chdb's keeps one session per process), so both queries are
    timed without connection costs."""

    def __init__(self, warehouse: Any) -> None:
        self.warehouse = warehouse
        self.minus = "except distinct" if warehouse.dialect == "clickhouse" else "except"
        self.connection: Any = None
        if warehouse.dialect == "duckdb":
            import duckdb

            self.connection = duckdb.connect(str(warehouse.path))

    def scalar(self, sql: str) -> int:
        if self.connection is not None:
            row = self.connection.execute(sql).fetchone()
            return int(row[0] or 0) if row else 0
        return int(self.warehouse.scalar(sql) or 0)

    def timed_count(self, sql: str) -> tuple[float, int]:
        started = time.perf_counter()
        members = self.scalar(f"select count(*) from ({sql}) as s")
        return time.perf_counter() - started, members

    def symmetric_difference(self, first: str, second: str) -> tuple[int, int]:
        """Profile ids of `first` not in `second`, and of `second` not in `first`."""
        only_first = self.scalar(f"select count(*) from (({first}) {self.minus} ({second})) as d")
        only_second = self.scalar(f"select count(*) from (({second}) {self.minus} ({first})) as d")
        return only_first, only_second

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def segment_info(definition: Any, position: int) -> Any:
    from herald.segments.catalog import SegmentInfo
    from herald.segments.definition import referenced_segments

    return SegmentInfo(
        id=position + 1,
        name=definition.name,
        database=definition.database,
        kind=definition.kind,
        title=definition.title,
        description=None,
        version=1,
        refresh=None,
        frozen_from=None,
        frozen_at=None,
        depends_on=tuple(referenced_segments(definition.where)),
        definition=definition,
        created_at=AS_OF,
        updated_at=AS_OF,
    )


def measure(engine: str, home: Path, repeat: int) -> dict[str, Any]:
    from herald.profiles.schema import load_schema
    from herald.segments.compiler import SegmentCompiler
    from herald.segments.definition import parse_definition
    from herald.segments.materialize import refresh_segment
    from herald.segments.service import estimate

    os.environ["HERALD_HOME"] = str(home)
    load_before = os.getloadavg()
    warehouse = open_engine(engine, home)
    schema = load_schema(REPO / "docs" / "schemas" / f"{DATABASE}.yml")
    compiler = SegmentCompiler(warehouse, schema, as_of=AS_OF)
    rows = {table: warehouse.row_count(table) for table in INPUT_TABLES}
    campaign = busiest_campaign(warehouse)
    names = placeholders(warehouse, campaign)
    definitions = [
        parse_definition(
            {"version": 1, "name": case.name, "database": DATABASE, "title": case.kinds,
             "where": fill(case.where, campaign)}
        )
        for case in CASES
    ]  # fmt: skip

    # Refresh: a segment it names first (the cases are in that order).
    for table in ("segment_members", "segment_membership_changes", "segment_sizes"):
        warehouse.drop(table)
    passes: list[list[dict[str, Any]]] = []
    for _ in range(2):
        reports = []
        for position, definition in enumerate(definitions):
            started = time.perf_counter()
            report = refresh_segment(
                warehouse, segment_info(definition, position), schema, as_of=AS_OF
            )
            reports.append({**report, "wall_s": round(time.perf_counter() - started, 3)})
        passes.append(reports)

    client = QueryClient(warehouse)
    segments: list[dict[str, Any]] = []
    mismatches: list[dict[str, Any]] = []
    for case, definition, refreshed in zip(CASES, definitions, passes[1], strict=True):
        compiled = compiler.members_sql(definition)
        text = case.clickhouse if warehouse.dialect == "clickhouse" and case.clickhouse else None
        hand = (text or case.duckdb).format(**names)
        only_compiled, only_hand = client.symmetric_difference(compiled, hand)
        ours: list[float] = []
        theirs: list[float] = []
        counts: set[int] = set()
        for attempt in range(repeat + 1):  # the first of each is the warm-up
            seconds, members = client.timed_count(compiled)
            counts.add(members)
            if attempt:
                ours.append(seconds)
            seconds, members = client.timed_count(hand)
            counts.add(members)
            if attempt:
                theirs.append(seconds)
        entry = {
            "segment": case.name,
            "kinds": case.kinds,
            "members": refreshed["members"],
            "compiled_s": round(statistics.median(ours), 4),
            "hand_s": round(statistics.median(theirs), 4),
            "ratio": round(statistics.median(ours) / statistics.median(theirs), 3),
            "refresh_first_s": next(r["wall_s"] for r in passes[0] if r["segment_id"] == case.name),
            "refresh_steady_s": refreshed["wall_s"],
            "only_compiled": only_compiled,
            "only_hand": only_hand,
            "counts": sorted(counts),
        }
        segments.append(entry)
        if only_compiled or only_hand or len(counts) != 1:
            mismatches.append(
                {**entry, "definition": definition.document, "compiled_sql": compiled,
                 "hand_sql": hand}
            )  # fmt: skip

    client.close()
    estimates = []
    for index, where in enumerate(ESTIMATES):
        definition = parse_definition(
            {"version": 1, "name": f"estimate-{index + 1}", "database": DATABASE, "where": where}
        )
        times = []
        result: dict[str, Any] = {}
        for attempt in range(repeat + 1):
            started = time.perf_counter()
            result = estimate(warehouse, schema, definition, as_of=AS_OF)
            if attempt:
                times.append(time.perf_counter() - started)
        estimates.append(
            {"definition": where, "members": result["members"], "total": result["total"],
             "seconds": round(statistics.median(times), 4)}
        )  # fmt: skip
    warehouse.close()
    return {
        "engine": engine,
        "rows": rows,
        "campaign": campaign,
        "refresh_first_total_s": round(sum(r["wall_s"] for r in passes[0]), 2),
        "refresh_steady_total_s": round(sum(r["wall_s"] for r in passes[1]), 2),
        "compiled_total_s": round(sum(s["compiled_s"] for s in segments), 3),
        "hand_total_s": round(sum(s["hand_s"] for s in segments), 3),
        "segments": segments,
        "mismatches": mismatches,
        "estimates": estimates,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        # The box is shared: the 1-minute load average before and after, on os.cpu_count() CPUs.
        "load_average": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
    }


def stage(args: list[str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_segments", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if completed.returncode != 0:
        raise SystemExit(f"bench_segments {' '.join(args)} failed:\n{completed.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


REFRESH_TARGET_S = 60.0
RATIO_TARGET = 1.5
ESTIMATE_TARGET_S = 1.0


def run(home: Path, profiles: int, engines: list[str], repeat: int) -> dict[str, Any]:
    """Setup (reused when there), then each engine measured in a process of its own."""
    generation = setup_generate(home, profiles)
    measured: dict[str, Any] = {}
    for engine in engines:
        common = ["--home", str(home), "--engine", engine]
        setup = stage([*common, "--stage", "setup"])
        result = stage([*common, "--stage", "measure", "--repeat", str(repeat)])
        measured[engine] = {"setup": setup, **result}
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "as_of": AS_OF.isoformat(),
        "profiles": profiles,
        "repeat": repeat,
        "generation": generation,
        "home_bytes": disk_bytes(home),
        "engines": measured,
    }


def run_and_report() -> None:
    """`make bench` (BENCH_ONLY=segments): BENCH_SEGMENT_PROFILES (default 1,000,000),
    BENCH_SEGMENT_ENGINES (default duckdb,chdb); the data stays in var/bench-segments/<N>.
    results/segments.json keeps the latest run of every scale; segments.md shows them."""
    profiles = int(os.environ.get("BENCH_SEGMENT_PROFILES", "1000000"))
    engines = os.environ.get("BENCH_SEGMENT_ENGINES", "duckdb,chdb").split(",")
    home = (REPO / "var" / "bench-segments" / str(profiles)).resolve()
    report = run(home, profiles, engines, int(os.environ.get("BENCH_SEGMENT_REPEAT", "3")))
    results = REPO / "tests" / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    path = results / "segments.json"
    runs = json.loads(path.read_text())["runs"] if path.exists() else {}
    runs[str(profiles)] = report
    runs = dict(sorted(runs.items(), key=lambda item: int(item[0])))
    path.write_text(json.dumps({"runs": runs}, indent=2, ensure_ascii=False) + "\n")
    summary = render_summary(runs)
    (results / "segments.md").write_text(summary)
    print(summary)


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def render_summary(runs: dict[str, Any]) -> str:
    lines = ["# Segment benchmark", ""]
    for report in runs.values():
        generation = report["generation"]
        lines += [
            f"## {report['profiles']:,} profiles ({report['when']}, "
            f"{report['machine']['cpus']} CPUs, as of {report['as_of']})",
            "",
            f"Setup: `herald generate` {generation['generate_seconds']:.0f} s "
            f"({generation['landing_bytes'] / 2**30:.1f} GiB of landing files); "
            f"everything under the bench home {report['home_bytes'] / 2**30:.1f} GiB.",
            "",
            "| engine | materialize (s) | warehouse (GiB) | refresh 20, first (s) "
            "| refresh 20, steady (s) | target ≤ 60 s | worst ratio | estimates (s) "
            "| target ≤ 1 s | peak RSS (MiB) | mismatches | load avg before/after |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, engine in report["engines"].items():
            setup = engine["setup"]
            worst = max(engine["segments"], key=lambda segment: segment["ratio"])
            slowest = max(estimate["seconds"] for estimate in engine["estimates"])
            refresh = max(engine["refresh_first_total_s"], engine["refresh_steady_total_s"])
            estimate_times = ", ".join(f"{e['seconds']:.2f}" for e in engine["estimates"])
            lines.append(
                f"| {name} | {setup['materialize_seconds']:.0f} | "
                f"{setup.get('warehouse_bytes', 0) / 2**30:.1f} | "
                f"{engine['refresh_first_total_s']:.1f} | {engine['refresh_steady_total_s']:.1f} | "
                f"{verdict(refresh <= REFRESH_TARGET_S)} | "
                f"{worst['ratio']:.2f} ({worst['segment']}) | "
                f"{estimate_times} | "
                f"{verdict(slowest <= ESTIMATE_TARGET_S)} | {engine['peak_rss_mib']:,} | "
                f"{len(engine['mismatches'])} | "
                f"{' / '.join(str(load) for load in engine.get('load_average', []))} |"
            )
        first = next(iter(report["engines"].values()))
        lines += ["", "Input rows: " + ", ".join(f"{t} {n:,}" for t, n in first["rows"].items())]
        for name, engine in report["engines"].items():
            lines += [
                "",
                f"### {name}: compiled vs hand-written, `select count(*) from (...)`, "
                f"median of {report['repeat']} after a warm-up",
                "",
                "| segment | kinds | members | compiled (s) | hand (s) | ratio | ≤ 1.5 "
                "| refresh (s) | same ids |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for segment in engine["segments"]:
                same = not (segment["only_compiled"] or segment["only_hand"])
                differ = f"NO: {segment['only_compiled']} / {segment['only_hand']}"
                same_text = "yes" if same else differ
                lines.append(
                    f"| {segment['segment']} | {segment['kinds']} | {segment['members']:,} | "
                    f"{segment['compiled_s']:.3f} | {segment['hand_s']:.3f} | "
                    f"{segment['ratio']:.2f} | {verdict(segment['ratio'] <= RATIO_TARGET)} | "
                    f"{segment['refresh_steady_s']:.2f} | "
                    f"{same_text} |"
                )
            lines.append(
                f"| total | | | {engine['compiled_total_s']:.3f} | {engine['hand_total_s']:.3f} "
                f"| {engine['compiled_total_s'] / engine['hand_total_s']:.2f} | | "
                f"{engine['refresh_steady_total_s']:.2f} | |"
            )
            lines += ["", "| estimate | members | of | seconds |", "|---|---|---|---|"]
            for estimate in engine["estimates"]:
                lines.append(
                    f"| `{json.dumps(estimate['definition'], ensure_ascii=False)}` | "
                    f"{estimate['members']:,} | {estimate['total']:,} | {estimate['seconds']:.3f} |"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument(
        "--engine", nargs="+", choices=["duckdb", "chdb"], default=["duckdb", "chdb"]
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stage", choices=["setup", "measure"])
    args = parser.parse_args()
    home = args.home.resolve()

    if args.stage == "setup":
        print(json.dumps(setup_materialize(home, args.engine[0])))
        return
    if args.stage == "measure":
        print(json.dumps(measure(args.engine[0], home, args.repeat), ensure_ascii=False))
        return
    print(json.dumps(run(home, args.profiles, args.engine, args.repeat), ensure_ascii=False))


if __name__ == "__main__":
    main()
