"""Benchmark: every report mart built at scale, on DuckDB and chdb.

    python -m tests.benchmarks.bench_report_marts --profiles 10000000 [--engines duckdb,chdb]

The issue's target is all report marts at 10M profiles / 100M events in ≤ 2 minutes on DuckDB.
Generating 10M profiles with `herald generate` and unifying them takes hours, so the marts'
inputs are synthesised here in DuckDB SQL with the same columns and shapes as the pipeline
gives them (per profile: 10 web events in 3 sessions, 3 message events, 1 subscription
state; 0.8 orders per profile, bought by half of them), written to Parquet once per scale
under var/bench-reports/<N>/ and loaded into each engine. Then each report model is built as
the pipeline builds it (materialize_model: create under a temporary name, swap) and, beside
it, as a bare `CREATE TABLE AS` of the same SQL on the raw engine, for the overhead ratio.
The intermediate model they read (`int_sessions_summarised`) is built and timed with them;
`profile_ltv_predicted` (Python) is timed too. Figures go to
tests/benchmarks/results/report_marts.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "benchmarks" / "results"
EVENTS_PER_PROFILE = 10
TARGET_S = 120.0

# Each input: (table, SQL over `p` = range(profiles) as i), written to <table>.parquet.
INPUTS: dict[str, str] = {
    "profiles": """
        select 'p' || i as profile_id, 'customers' as database,
            timestamp '2024-01-01' + to_seconds(cast(hash(i, 1) % 63072000 as bigint))
                as created_at,
            timestamp '2026-11-01' as updated_at, '{{}}' as fields
        from range({n}) t(i)""",
    "events": """
        with base as (
            select i, k, i * 10 + k as e,
                timestamp '2024-06-01'
                    + to_seconds(cast(hash(i, 2) % 47304000 as bigint) + k * 3600) as ts
            from range({n}) t(i), range(10) s(k)
        )
        select 'e' || e as event_id,
            case when k % 10 < 6 then 'page' when k % 10 < 9 then 'track' else 'identify' end
                as event_type,
            case when k % 10 < 6 then 'Page Viewed'
                when k % 10 = 6 then 'Product Viewed'
                when k % 10 = 7 then (['Product Added', 'Goal Completed', 'Form Submitted'])[
                    1 + cast(hash(e) % 3 as int)]
                when k % 10 = 8 then (['Checkout Started', 'Order Completed', 'Signed Up'])[
                    1 + cast(hash(e) % 3 as int)]
                else 'Identify' end as event_name,
            cast(ts as timestamp(3)) as occurred_at, cast(ts as date) as event_date,
            cast(ts + interval 2 second as timestamp(3)) as received_at,
            'a' || i as anonymous_id, case when i % 3 = 0 then 'u' || i end as user_id,
            'sess-' || i || '-' || (k // 4) as session_id, 'd' || i as device_id,
            'https://shop.example/p/' || (hash(e) % 50) as url,
            '/p/' || (hash(e) % 50) as path, 'Title' as title,
            null::varchar as referrer, (['google.com', 'vk.com', null, 'mail.ru', 'blog.example',
                null])[1 + cast(hash(i, 3) % 6 as int)] as referrer_host,
            (['search', 'social', 'direct', 'email', 'referral', 'paid'])[
                1 + cast(hash(i, 3) % 6 as int)] as traffic_source,
            (['google', 'vk', null, 'newsletter', null, 'yandex'])[
                1 + cast(hash(i, 3) % 6 as int)] as utm_source,
            (['cpc', 'social', null, 'email', null, 'cpc'])[
                1 + cast(hash(i, 3) % 6 as int)] as utm_medium,
            case when hash(i, 4) % 4 = 0 then 'spring-' || (hash(i, 4) % 7) end as utm_campaign,
            null::varchar as utm_content, null::varchar as utm_term,
            'P' || (hash(e) % 2000) as product_id, 'Cat' || (hash(e) % 20) as category,
            'Brand' || (hash(e) % 30) as brand, cast(hash(e) % 100000 as double) / 10 as price,
            'goal-' || (hash(e) % 5) as goal,
            '{{"form_id": "form-' || (hash(e) % 4) || '"}}' as properties
        from base""",
    "orders": """
        select 'o' || i as order_id, 'c' || (hash(i, 13) % ({n} // 2)) as customer_id,
            cast(timestamp '2024-06-01' + to_seconds(cast(hash(i, 5) % 75000000 as bigint))
                as timestamp(3)) as created_at,
            cast(timestamp '2024-06-01' + to_seconds(cast(hash(i, 5) % 75000000 as bigint))
                as date) as order_date,
            cast(timestamp '2026-11-01' as timestamp(3)) as updated_at,
            (['paid', 'shipped', 'delivered', 'delivered', 'cancelled', 'created'])[
                1 + cast(hash(i, 6) % 6 as int)] as status,
            hash(i, 6) % 6 < 4 as is_paid, 'RUB' as currency,
            cast(hash(i, 7) % 2000000 as double) / 100 as total, 0.0 as discount,
            null::varchar as promo_code, 'web' as channel, null::varchar as utm_source,
            null::varchar as utm_campaign, 2::bigint as line_count, 3::bigint as units,
            cast(hash(i, 7) % 2000000 as double) / 100 as items_total
        from range(cast({n} * 0.8 as bigint)) t(i)""",
    "message_events": """
        with base as (
            select i, k, i * 3 + k as e, 'm' || (i * 2 + (k // 2)) as message_id,
                timestamp '2024-06-01' + to_seconds(cast(hash(i, 8) % 75000000 as bigint)
                    + k * 600) as ts
            from range({n}) t(i), range(3) s(k)
        )
        select 'me' || e as event_id, message_id,
            'cmp-' || (hash(message_id) % 400) as campaign_id,
            (['email', 'email', 'email', 'sms', 'push'])[1 + cast(hash(message_id) % 5 as int)]
                as channel, 'x' || i || '@gmail.com' as recipient,
            (['gmail.com', 'mail.ru', 'yandex.ru', 'outlook.com'])[
                1 + cast(hash(i) % 4 as int)] as recipient_domain,
            'CRM-' || i as contact_id,
            case when k = 0 then 'sent' when k = 1 then (['delivered', 'bounced', 'failed'])[
                1 + cast(least(hash(e) % 40, 2) as int)]
            else (['opened', 'clicked', 'unsubscribed', 'complained'])[
                1 + cast(least(hash(e) % 60, 3) as int)] end as event_type,
            cast(ts as timestamp(3)) as occurred_at, cast(ts as date) as event_date,
            'https://shop.example/l/' || (hash(e) % 12) as url,
            cast(1 + hash(e) % 12 as integer) as link_position,
            case when hash(e) % 2 = 0 then 'hard' else 'soft' end as bounce_type,
            case when hash(e) % 2 = 0 then 'permanent' else 'transient' end as status_class,
            550 as smtp_code, case when hash(e) % 2 = 0 then '5.1.1' else '4.2.2' end
                as smtp_status, 'mailbox unavailable' as diagnostic, 'gmail.com' as provider
        from base""",
    "stg_web__devices": """
        select 'd' || i as device_id, 'a' || i as anonymous_id, null::varchar as customer_id,
            null::varchar as signup_id, (['web', 'ios', 'android'])[1 + cast(i % 3 as int)]
                as platform, 'os' as os, '1' as os_version, 'Chrome' as browser,
            null::varchar as app_version, null::varchar as push_token,
            timestamp '2025-01-01' as first_seen_at, timestamp '2025-01-02' as last_seen_at,
            'f' as _file
        from range({n}) t(i)""",
    "stg_web__signups": """
        select 'WEB-' || i as signup_id, 'a' || i as anonymous_id,
            cast(timestamp '2024-06-01' + to_seconds(cast(hash(i, 9) % 75000000 as bigint))
                as timestamp(3)) as signed_up_at
        from range(cast({n} * 0.3 as bigint)) t(i)""",
    "profile_subscription_states": """
        select 'customers' as database, 'p' || i as profile_id,
            (['email', 'sms'])[1 + cast(hash(i, 10) % 2 as int)] as channel,
            'news' as resource,
            case when hash(i, 11) % 10 = 0 then 'unsubscribed' else 'subscribed' end as status,
            cast(timestamp '2024-06-01' + to_seconds(cast(hash(i, 12) % 75000000 as bigint))
                as timestamp(3)) as changed_at
        from range({n}) t(i)""",
}

# Inputs linked to profiles, derived from the ones above (as segment_inputs links them).
DERIVED: dict[str, str] = {
    "profile_events": """
        select 'customers' as database, 'p' || substr(anonymous_id, 2) as profile_id, event_id,
            event_name, occurred_at, product_id, category, brand, price, goal, url, path,
            referrer_host, traffic_source, utm_source, utm_medium, utm_campaign, properties
        from read_parquet('{dir}/events.parquet')""",
    "profile_orders": """
        select 'customers' as database, 'p' || substr(customer_id, 2) as profile_id, order_id,
            created_at, status, total, promo_code, channel
        from read_parquet('{dir}/orders.parquet')""",
    "profile_message_events": """
        select 'customers' as database, 'p' || substr(contact_id, 5) as profile_id, event_id,
            event_type, campaign_id, channel, occurred_at
        from read_parquet('{dir}/message_events.parquet')""",
}


def synthesise(directory: Path, profiles: int) -> dict[str, int]:
    """Write every input as Parquet (once per scale); return the row counts."""
    directory.mkdir(parents=True, exist_ok=True)
    done = directory / "_complete.json"
    if done.exists():
        return json.loads(done.read_text())
    connection = duckdb.connect()
    connection.execute("set preserve_insertion_order = false")
    counts: dict[str, int] = {}
    for table, sql in {**INPUTS, **DERIVED}.items():
        started = time.perf_counter()
        target = directory / f"{table}.parquet"
        query = sql.format(n=profiles, dir=directory)
        connection.execute(f"copy ({query}) to '{target}' (format parquet, row_group_size 500000)")
        counts[table] = connection.execute(f"select count(*) from '{target}'").fetchone()[0]  # type: ignore[index]
        print(
            f"  {table}: {counts[table]:,} rows in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    connection.close()
    done.write_text(json.dumps(counts))
    return counts


def load(warehouse: Any, directory: Path) -> float:
    started = time.perf_counter()
    for table in [*INPUTS, *DERIVED]:
        path = directory / f"{table}.parquet"
        reader = (
            f"read_parquet('{path}')"
            if warehouse.dialect == "duckdb"
            else f"file('{path}', Parquet)"
        )
        warehouse.create_table_as(table, f"select * from {reader}")
    return time.perf_counter() - started


def bench_engine(engine: str, directory: Path, home: Path, repeat: int) -> dict[str, Any]:
    from herald.models.build import model_order, target_of
    from herald.models.materialize import materialize_model
    from herald.models.project import SqlProject
    from herald.models.render import Renderer
    from herald.reports.predicted import build_predicted_ltv
    from herald.warehouse.chdb_engine import ChdbWarehouse
    from herald.warehouse.duckdb_engine import DuckDBWarehouse

    warehouse = (
        DuckDBWarehouse(home / "reports.duckdb")
        if engine == "duckdb"
        else ChdbWarehouse(home / "reports-chdb")
    )
    load_s = load(warehouse, directory)
    project = SqlProject.load()
    renderer = Renderer(project, target_of(warehouse))
    # The intermediate models the reports read (sessions) first, then every report.
    reports = [
        name
        for name in model_order(project)
        if project.models[name].layer in ("intermediate", "reports")
    ]
    marts: list[dict[str, Any]] = []
    for name in reports:
        model = project.models[name]
        rendered = renderer.render(model)
        ours: list[float] = []
        raw: list[float] = []
        rows = None
        for _ in range(repeat):
            begin = time.perf_counter()
            warehouse.drop(f"{name}__raw")
            warehouse.create_table_as(f"{name}__raw", rendered.sql, None)
            raw.append(time.perf_counter() - begin)
            warehouse.drop(f"{name}__raw")
            begin = time.perf_counter()
            run = materialize_model(warehouse, renderer, model, full_refresh=True)
            ours.append(time.perf_counter() - begin)
            rows = run.rows
        marts.append(
            {
                "mart": name,
                "rows": rows,
                "herald_s": round(statistics.median(ours), 3),
                "raw_engine_s": round(statistics.median(raw), 3),
                "ratio": round(statistics.median(ours) / statistics.median(raw), 3),
            }
        )
        print(f"  {engine} {name}: {marts[-1]}", flush=True)
    begin = time.perf_counter()
    ltv = build_predicted_ltv(warehouse)
    ltv_s = time.perf_counter() - begin
    warehouse.close()
    return {
        "engine": engine,
        "load_inputs_s": round(load_s, 1),
        "marts": marts,
        "marts_total_s": round(sum(m["herald_s"] for m in marts), 1),
        "profile_ltv_predicted": {"rows": ltv["rows"], "seconds": round(ltv_s, 1)},
        "all_total_s": round(sum(m["herald_s"] for m in marts) + ltv_s, 1),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Report marts at {report['profiles']:,} profiles / {report['rows']['events']:,} events",
        "",
        f"Target: every report mart in ≤ {TARGET_S:.0f} s on DuckDB. Inputs synthesised "
        "(see the benchmark's docstring); median of "
        f"{report['repeat']} builds; raw = bare CREATE TABLE AS of the same SQL.",
        "",
    ]
    for result in report["engines"]:
        lines += [
            f"## {result['engine']}: marts {result['marts_total_s']} s, "
            f"with profile_ltv_predicted {result['all_total_s']} s",
            "",
            "| model | rows | herald s | raw engine s | ratio |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {m['mart']} | {m['rows']:,} | {m['herald_s']} | {m['raw_engine_s']} | "
            f"{m['ratio']} |"
            for m in result["marts"]
        ]
        ltv = result["profile_ltv_predicted"]
        lines += [f"| profile_ltv_predicted | {ltv['rows']:,} | {ltv['seconds']} | | |", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=10_000_000)
    parser.add_argument("--engines", default="duckdb,chdb")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    base = REPO / "var" / "bench-reports" / str(args.profiles)
    print(f"synthesising inputs for {args.profiles:,} profiles in {base}", flush=True)
    counts = synthesise(base / "inputs", args.profiles)
    report: dict[str, Any] = {
        "profiles": args.profiles,
        "rows": counts,
        "repeat": args.repeat,
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "target_s": TARGET_S,
        "engines": [],
    }
    for engine in args.engines.split(","):
        home = base / engine
        home.mkdir(parents=True, exist_ok=True)
        report["engines"].append(bench_engine(engine, base / "inputs", home, args.repeat))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "report_marts.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "report_marts.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
