"""Variants of a launch: A/B/n and MVT plans, the audience split, the winner.

    plans = variant_plans(definition)            # [VariantPlan("A", 50, ...), ...]
    groups, rest = split_audience(table, plans, test_share=20, seed=launch_id)
    winner, rates = choose_winner(results, "clicks", ["A", "B"])

The split is deterministic: recipients are ordered by a hash of the launch and their profile
id, so a launch split again (after a crash) puts everyone in the same group, and a profile's
group does not depend on the order of the segment's rows. With a test share under 100%, the
rest waits for the winner.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from herald.campaigns.definition import CampaignDefinition

MAIN_VARIANT = "main"
MAX_VARIANT_NAME = 100  # send_runs.variant
# The column of a metric among a run's results, and the count it is a rate of.
METRIC_COLUMNS = {"opens": "opened", "clicks": "clicked", "conversions": "conversions"}


@dataclass(frozen=True)
class VariantPlan:
    name: str
    share: float
    template: str | None = None  # another saved template than the campaign's
    overrides: dict[str, Any] = field(default_factory=dict)  # template parts replaced
    factors: dict[str, Any] = field(default_factory=dict)  # MVT: factor -> level

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "share": self.share,
            "template": self.template,
            "overrides": self.overrides,
            "factors": self.factors,
        }

    @classmethod
    def from_public(cls, value: Mapping[str, Any]) -> VariantPlan:
        return cls(
            name=str(value["name"]),
            share=float(value["share"]),
            template=value.get("template"),
            overrides=dict(value.get("overrides") or {}),
            factors=dict(value.get("factors") or {}),
        )


def variant_plans(definition: CampaignDefinition, parts: Sequence[str] = ()) -> list[VariantPlan]:
    """The variants to send: A/B/n variants, every MVT combination (equal shares; a factor
    named like a template part replaces that part), or the one main variant."""
    if definition.ab_test is not None:
        return [
            VariantPlan(v.name, v.share, v.template, v.overrides())
            for v in definition.ab_test.variants
        ]
    if definition.mvt is not None:
        names = list(definition.mvt.factors)
        plans = []
        for levels in itertools.product(*definition.mvt.factors.values()):
            factors = dict(zip(names, levels, strict=True))
            label = " × ".join(f"{name}={_short(level)}" for name, level in factors.items())
            overrides = {name: level for name, level in factors.items() if name in parts}
            plans.append(VariantPlan(label, 1.0, None, overrides, factors))
        labels = [plan.name for plan in plans]
        if len(set(labels)) < len(labels) or max(map(len, labels)) > MAX_VARIANT_NAME:
            # levels alike in their first characters, or too many factors to read: numbered
            plans = [replace(plan, name=f"v{n}") for n, plan in enumerate(plans, start=1)]
        return plans
    return [VariantPlan(MAIN_VARIANT, 1.0)]


def _short(level: Any) -> str:
    text = str(level)
    return text if len(text) <= 24 else text[:23] + "…"


def split_audience(
    table: pa.Table, plans: Sequence[VariantPlan], *, test_share: float, seed: str
) -> tuple[dict[str, pa.Table], pa.Table | None]:
    """Recipients per variant (by share, of the test part) and the rest (None at 100%)."""
    if table.num_rows == 0:
        return {plan.name: table for plan in plans}, None
    ids = table.column("profile_id").cast(pa.string())
    salted = pc.binary_join_element_wise(pa.scalar(seed + ":"), ids, "")
    order = _stable_hash_order(salted)
    shuffled = table.take(order)
    total = table.num_rows
    tested = total if test_share >= 100 else round(total * test_share / 100)
    shares = sum(plan.share for plan in plans)
    groups: dict[str, pa.Table] = {}
    start = 0
    cumulative = 0.0
    for index, plan in enumerate(plans):
        cumulative += plan.share
        # cumulative bounds: the groups never overlap nor run past the tested part
        end = (
            tested if index == len(plans) - 1 else min(tested, round(tested * cumulative / shares))
        )
        groups[plan.name] = shuffled.slice(start, max(0, end - start))
        start = max(start, end)
    rest = shuffled.slice(tested) if tested < total else None
    return groups, rest


def _stable_hash_order(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    import hashlib

    keys = [hashlib.blake2b(value.encode(), digest_size=8).digest() for value in values.to_pylist()]
    return pa.array(sorted(range(len(keys)), key=keys.__getitem__), pa.int64())


def metric_rate(result: Mapping[str, Any], metric: str) -> float:
    """Opens, clicks or conversions per message sent (0 when none was sent)."""
    sent = int(result.get("sent") or 0)
    if sent <= 0:
        return 0.0
    return int(result.get(METRIC_COLUMNS[metric]) or 0) / sent


def choose_winner(
    results: Mapping[str, Mapping[str, Any]], metric: str, variants: Sequence[str]
) -> tuple[str, dict[str, float]]:
    """The variant with the highest rate of `metric`; a tie goes to the earlier variant (the
    control, by convention listed first)."""
    rates = {name: metric_rate(results.get(name, {}), metric) for name in variants}
    best = max(variants, key=lambda name: (rates[name], -variants.index(name)))
    return best, rates
