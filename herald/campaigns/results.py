"""Results of campaign runs and variants, from the communications mart.

    per_run = run_results(warehouse, ["campaign-2026...-a1b2c3", ...])
    per_variant = variant_results(runs, per_run)     # runs of one launch, observers left out

Herald's message events name their run (`campaign_id` = the run) in `message_events`, and
`report_communications_daily` (issue #5) counts each message once: sent, delivered, opened
and clicked by a person (machine opens and link scanners excluded), unsubscribed, bounced,
and conversions (paid orders attributed to the message's last click within the attribution
window). A run's results are its rows summed over days. They are as current as the last
build of the mart; the send log (`herald queue status`) is live.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from herald.errors import WarehouseError
from herald.warehouse import Warehouse

COMMUNICATIONS_MART = "report_communications_daily"
RESULT_COLUMNS = (
    "sent",
    "delivered",
    "opened",
    "clicked",
    "unsubscribed",
    "complaints",
    "bounced",
    "failed",
    "conversions",
    "revenue",
)


def empty_result() -> dict[str, Any]:
    return {column: 0 for column in RESULT_COLUMNS}


def run_results(warehouse: Warehouse, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Summed results per run id (runs without events are absent)."""
    if not run_ids or not warehouse.exists(COMMUNICATIONS_MART):
        return {}
    names = ", ".join(warehouse.literal(run_id) for run_id in run_ids)
    sql = f"""select
    campaign_id,
    sum(sent) as sent,
    sum(delivered) as delivered,
    sum(opened_unique) as opened,
    sum(clicked_unique) as clicked,
    sum(unsubscribed) as unsubscribed,
    sum(complaints) as complaints,
    sum(soft_bounces) + sum(hard_bounces) as bounced,
    sum(failed) as failed,
    sum(attributed_orders) as conversions,
    sum(attributed_revenue) as revenue
from {warehouse.qualify(COMMUNICATIONS_MART)}
where campaign_id in ({names})
group by campaign_id"""
    try:
        table = warehouse.query_arrow(sql)
    except WarehouseError:
        return {}
    results: dict[str, dict[str, Any]] = {}
    for row in table.to_pylist():
        run_id = str(row.pop("campaign_id"))
        results[run_id] = {column: _number(row.get(column)) for column in RESULT_COLUMNS}
    return results


def _number(value: Any) -> int | float:
    if value is None:
        return 0
    number = float(value)
    return int(number) if number.is_integer() else round(number, 2)


def add_results(total: dict[str, Any], part: Mapping[str, Any]) -> None:
    for column in RESULT_COLUMNS:
        total[column] = _number(total.get(column, 0)) + _number(part.get(column, 0))


def with_rates(result: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(result)
    sent = float(out.get("sent") or 0)
    delivered = float(out.get("delivered") or 0) or sent
    for name, column, base in (
        ("open_rate", "opened", delivered),
        ("click_rate", "clicked", delivered),
        ("conversion_rate", "conversions", delivered),
        ("bounce_rate", "bounced", sent),
        ("unsubscribe_rate", "unsubscribed", delivered),
    ):
        out[name] = round(float(out.get(column) or 0) / base, 4) if base else 0.0
    return out


def variant_results(
    runs: Iterable[Mapping[str, Any]], per_run: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Results per variant: the sum of its runs (time-zone waves, the winner's send to the
    rest counts for the winner), observers' copies left out. `runs` are dicts with `id`,
    `variant` and `observer`."""
    totals: dict[str, dict[str, Any]] = {}
    for run in runs:
        if run.get("observer"):
            continue
        total = totals.setdefault(str(run.get("variant") or "main"), empty_result())
        add_results(total, per_run.get(str(run["id"]), {}))
    return totals
