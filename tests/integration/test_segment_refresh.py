"""Refreshing segments on both engines: members and since, entries and exits, sizes, static
lists and frozen copies, explain and estimate; and the inputs that link activity to profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from herald.profiles.schema import ProfileSchema
from herald.segments.catalog import SegmentInfo
from herald.segments.definition import SegmentDefinitionError, parse_definition
from herald.segments.inputs import build_inputs
from herald.segments.materialize import (
    MEMBERSHIP_CHANGES,
    SEGMENT_SIZES,
    refresh_segment,
)
from herald.segments.refresh import due_segments, forget_deleted
from herald.segments.service import UnknownProfile, definition_checker, estimate, explain
from herald.warehouse.base import Warehouse
from tests.fixtures.segments import SHOP_SCHEMA, load_segment_inputs

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def segment(where: dict[str, Any] | None, name: str = "gold", **extra: Any) -> SegmentInfo:
    frozen_from = extra.pop("frozen_from", None)
    document = {"name": name, "database": "shop", **extra}
    if where is not None:
        document["where"] = where
    definition = parse_definition(document)
    return SegmentInfo(
        id=1, name=name, database="shop", kind=definition.kind, title=None, description=None,
        version=1, refresh=definition.refresh, frozen_from=frozen_from, frozen_at=None,
        depends_on=(), definition=definition, created_at=T0, updated_at=T0,
    )  # fmt: skip


GOLD = {"field": "level", "op": "equals", "value": "gold"}


def members(warehouse: Warehouse, name: str = "gold") -> dict[str, datetime]:
    rows = warehouse.query_arrow(
        f"select profile_id, since from {warehouse.qualify('segment_members')} "
        f"where segment_id = {warehouse.literal(name)}"
    ).to_pylist()
    return {row["profile_id"]: row["since"].replace(tzinfo=UTC) for row in rows}


def shop(warehouse: Warehouse, levels: dict[str, str | None], **tables: Any) -> None:
    profiles = [{"profile_id": key, "level": level} for key, level in levels.items()]
    load_segment_inputs(warehouse, SHOP_SCHEMA, profiles=profiles, **tables)


def test_a_refresh_keeps_since_records_entries_and_exits_and_sizes(warehouse: Warehouse) -> None:
    shop(warehouse, {"a": "gold", "b": "gold", "c": "silver"})
    first = refresh_segment(warehouse, segment(GOLD), SHOP_SCHEMA, as_of=T0)
    assert (first["members"], first["entered"], first["left"]) == (2, 2, 0)

    shop(warehouse, {"a": "gold", "b": "silver", "c": "gold"})
    later = T0 + timedelta(hours=1)
    second = refresh_segment(warehouse, segment(GOLD), SHOP_SCHEMA, as_of=later)

    assert (second["members"], second["entered"], second["left"]) == (2, 1, 1)
    assert members(warehouse) == {"a": T0, "c": later}
    spells = warehouse.query_arrow(
        f"select profile_id, entered_at, left_at from {warehouse.qualify(MEMBERSHIP_CHANGES)} "
        "order by profile_id"
    ).to_pylist()

    def utc(moment: datetime | None) -> datetime | None:
        return moment.replace(tzinfo=UTC) if moment is not None else None

    assert [(row["profile_id"], utc(row["entered_at"]), utc(row["left_at"])) for row in spells] == [
        ("a", T0, None),
        ("b", T0, later),
        ("c", later, None),
    ]
    sizes = warehouse.query_arrow(
        f"select members, entered, {warehouse.quote('left')} from "
        f"{warehouse.qualify(SEGMENT_SIZES)} order by computed_at"
    ).to_pylist()
    assert [tuple(row.values()) for row in sizes] == [(2, 2, 0), (2, 1, 1)]


def test_a_profile_that_leaves_and_comes_back_opens_a_new_spell(warehouse: Warehouse) -> None:
    for hour, level in enumerate(("gold", "silver", "gold")):
        shop(warehouse, {"a": level})
        refresh_segment(warehouse, segment(GOLD), SHOP_SCHEMA, as_of=T0 + timedelta(hours=hour))
    spells = warehouse.scalar(f"select count(*) from {warehouse.qualify(MEMBERSHIP_CHANGES)}")
    assert spells == 2
    assert members(warehouse) == {"a": T0 + timedelta(hours=2)}


def test_refreshing_one_segment_leaves_the_others_alone(warehouse: Warehouse) -> None:
    shop(warehouse, {"a": "gold", "b": "silver"})
    silver = {"field": "level", "op": "equals", "value": "silver"}
    refresh_segment(warehouse, segment(GOLD), SHOP_SCHEMA, as_of=T0)
    refresh_segment(warehouse, segment(silver, name="silver"), SHOP_SCHEMA, as_of=T0)
    shop(warehouse, {"a": "bronze", "b": "silver"})
    refresh_segment(warehouse, segment(GOLD), SHOP_SCHEMA, as_of=T0 + timedelta(hours=1))
    assert members(warehouse, "gold") == {}
    assert set(members(warehouse, "silver")) == {"b"}


def test_a_static_list_is_its_additions_less_its_removals(warehouse: Warehouse) -> None:
    shop(warehouse, {"a": None, "b": None, "c": None})
    listed = segment(None, name="vip", kind="static")
    entries = [("a", True), ("b", True), ("b", False), ("ghost", True)]
    # The latest action per profile counts (the store keeps one row per profile).
    latest = dict(entries)
    refresh_segment(warehouse, listed, SHOP_SCHEMA, as_of=T0, entries=list(latest.items()))
    assert set(members(warehouse, "vip")) == {"a"}


def test_a_frozen_segment_keeps_what_its_source_had(warehouse: Warehouse) -> None:
    shop(warehouse, {"a": "gold", "b": "silver"})
    refresh_segment(warehouse, segment(GOLD), SHOP_SCHEMA, as_of=T0)
    frozen = segment(None, name="gold-nov", kind="static", frozen_from="gold")
    refresh_segment(warehouse, frozen, SHOP_SCHEMA, as_of=T0)

    shop(warehouse, {"a": "silver", "b": "gold"})
    refresh_segment(warehouse, segment(GOLD), SHOP_SCHEMA, as_of=T0 + timedelta(hours=1))
    refresh_segment(warehouse, frozen, SHOP_SCHEMA, as_of=T0 + timedelta(hours=1))

    assert set(members(warehouse, "gold")) == {"b"}
    assert set(members(warehouse, "gold-nov")) == {"a"}


def test_a_deleted_segment_loses_its_members(warehouse: Warehouse) -> None:
    shop(warehouse, {"a": "gold"})
    refresh_segment(warehouse, segment(GOLD), SHOP_SCHEMA, as_of=T0)
    assert forget_deleted(warehouse, ["other"]) == ["gold"]
    assert members(warehouse) == {}


def test_explain_gives_every_node_and_the_value_behind_each_leaf(warehouse: Warehouse) -> None:
    events = [
        {"profile_id": "a", "event_id": str(n), "event_name": "Product Viewed",
         "occurred_at": T0 - timedelta(days=n), "category": "shoes", "price": 10.0 * n}
        for n in (1, 2, 3)
    ]  # fmt: skip
    shop(warehouse, {"a": "gold"}, events=events)
    where = {
        "all": [
            GOLD,
            {"not": {"event": "Product Viewed", "op": "at_least", "value": 5}},
            {"event": "Product Viewed", "measure": "sum", "property": "price",
             "op": "greater", "value": 100},
        ]
    }  # fmt: skip
    result = explain(warehouse, SHOP_SCHEMA, segment(where).definition, "a", as_of=T0)

    root = result["tree"]
    level, not_five, total = root["children"]
    assert result["member"] is False and root["result"] is False
    assert (level["result"], level["value"]) == (True, "gold")
    assert not_five["result"] is True
    assert not_five["children"][0]["value"] == 3  # three views, not five
    assert (total["result"], total["value"]) == (False, 60.0)


def test_explain_of_an_unknown_profile_is_a_clear_error(warehouse: Warehouse) -> None:
    shop(warehouse, {"a": "gold"})
    with pytest.raises(UnknownProfile, match="no profile 'nobody'"):
        explain(warehouse, SHOP_SCHEMA, segment(GOLD).definition, "nobody", as_of=T0)


def test_estimate_counts_an_unsaved_definition(warehouse: Warehouse) -> None:
    shop(warehouse, {"a": "gold", "b": "gold", "c": "silver", "d": None})
    result = estimate(warehouse, SHOP_SCHEMA, segment(GOLD).definition, as_of=T0)
    assert (result["members"], result["total"], result["share"]) == (2, 4, 0.5)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"field": "shoe_size", "op": "equals", "value": 42}, "has no field 'shoe_size'"),
        ({"field": "points", "op": "greater", "value": "many"}, "is not a whole number"),
        ({"field": "level", "op": "equals", "value": "platinum"}, "is not one of bronze"),
        ({"field": "level", "op": "contains", "value": "go"}, "does not apply to field"),
        ({"field": "points", "op": "between", "value": [10, 1]}, r"between \[10, 1\] is empty"),
        ({"event": "Never Seen"}, "no event named 'Never Seen' has been recorded"),
        ({"field": "points", "op": "greater", "value": 10**30}, "is out of range"),
        ({"field": "average_order", "op": "less", "value": float("nan")}, "is out of range"),
    ],
)
def test_a_definition_is_checked_before_it_is_saved(
    warehouse: Warehouse, where: dict[str, Any], message: str
) -> None:
    events = [{"profile_id": "a", "event_id": "1", "event_name": "Seen", "occurred_at": T0}]
    shop(warehouse, {"a": "gold"}, events=events)
    check = definition_checker(warehouse, SHOP_SCHEMA)
    with pytest.raises(SegmentDefinitionError, match=message):
        check(segment(where).definition)


def test_a_definition_matching_a_whole_big_base_needs_allow_everyone(warehouse: Warehouse) -> None:
    levels: dict[str, str | None] = {f"p{n}": "gold" for n in range(10_000)}
    shop(warehouse, levels)
    check = definition_checker(warehouse, SHOP_SCHEMA)
    with pytest.raises(SegmentDefinitionError, match="match every one of the 10000 profiles"):
        check(segment(GOLD).definition)
    check(segment(GOLD, allow_everyone=True).definition)  # said on purpose: accepted


def test_segments_due_are_those_changed_and_those_whose_schedule_fired() -> None:
    hourly = segment(GOLD, name="hourly", refresh="0 * * * *")
    changed = segment(GOLD, name="changed")
    changed = SegmentInfo(**{**vars(changed), "updated_at": T0 + timedelta(minutes=5)})
    quiet = segment(GOLD, name="quiet")
    since, now = T0 + timedelta(minutes=1), T0 + timedelta(minutes=59)
    assert due_segments([hourly, changed, quiet], since, now) == ["changed"]
    later = T0 + timedelta(hours=1, minutes=1)
    assert due_segments([hourly, changed, quiet], since, later) == ["hourly", "changed"]


# --- inputs -----------------------------------------------------------------------------------
def _create(warehouse: Warehouse, table: str, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    data = pa.Table.from_pylist(rows)
    warehouse.create_table_from_arrow_schema(table, data.schema)
    warehouse.insert_arrow(table, data)


SHOP_DB = ProfileSchema.model_validate(
    {"database": "shop", "fields": [{"name": "email", "type": "string", "identifier": "email"}]}
)


def test_inputs_link_activity_to_profiles_through_their_identifiers(warehouse: Warehouse) -> None:
    _create(warehouse, "profiles", [{"profile_id": "p1", "database": "shop"}])
    _create(warehouse, "profiles__shop", [{"profile_id": "p1", "database": "shop"},
                                          {"profile_id": "p2", "database": "shop"}])  # fmt: skip
    _create(
        warehouse,
        "profile_identifiers",
        [
            {"profile_id": "p1", "database": "shop", "kind": "custom:web", "value": "WEB-1"},
            {"profile_id": "p1", "database": "shop", "kind": "device_id", "value": "anon-1"},
            {"profile_id": "p2", "database": "shop", "kind": "custom:shop", "value": "SHOP-2"},
            {"profile_id": "p2", "database": "shop", "kind": "email", "value": "b@x.ru"},
        ],
    )
    _create(
        warehouse,
        "events",
        [
            {"event_id": "e1", "event_name": "Viewed", "occurred_at": T0, "user_id": "WEB-1",
             "anonymous_id": "anon-9", "device_id": None},
            {"event_id": "e2", "event_name": "Viewed", "occurred_at": T0, "user_id": None,
             "anonymous_id": "anon-1", "device_id": None},
            {"event_id": "e3", "event_name": "Viewed", "occurred_at": T0, "user_id": "SHOP-2",
             "anonymous_id": "anon-1", "device_id": None},
            {"event_id": "e4", "event_name": "Viewed", "occurred_at": T0, "user_id": "nobody",
             "anonymous_id": None, "device_id": None},
        ],
    )  # fmt: skip
    _create(warehouse, "orders", [{"order_id": "o1", "customer_id": "SHOP-2", "created_at": T0,
                                   "status": "paid", "total": 10.5}])  # fmt: skip
    _create(warehouse, "order_items", [{"order_id": "o1", "product_id": "x", "quantity": 2}])
    _create(
        warehouse,
        "stg_crm__subscriptions",
        [{"contact_id": "b@x.ru", "channel": "email", "resource": "*", "status": "subscribed",
          "changed_at": T0}],
    )  # fmt: skip
    report = build_inputs(
        warehouse,
        ["shop"],
        subscriptions=[
            {"database": "shop", "profile_id": "p2", "channel": "email", "resource": "*",
             "status": "unsubscribed", "changed_at": T0 + timedelta(days=1)},
        ],
        relations=[{"database": "shop", "from_profile_id": "p1", "to_profile_id": "p2",
                    "kind": "family"}],
    )  # fmt: skip

    linked = warehouse.query_arrow(
        f"select event_id, profile_id from {warehouse.qualify('profile_events')} order by event_id"
    ).to_pylist()
    # The user id decides before the anonymous id; an unknown user is nobody's.
    assert [(row["event_id"], row["profile_id"]) for row in linked] == [
        ("e1", "p1"),
        ("e2", "p1"),
        ("e3", "p2"),
    ]
    assert report["rows"]["profile_orders"] == 1
    assert report["rows"]["profile_order_items"] == 1
    states = warehouse.query_arrow(
        f"select profile_id, status from {warehouse.qualify('profile_subscription_states')}"
    ).to_pylist()
    assert states == [{"profile_id": "p2", "status": "unsubscribed"}]  # the newer change wins
    assert report["rows"]["profile_relation_edges"] == 2  # once per direction


def test_ids_of_no_profile_are_named_when_a_list_changes(warehouse: Warehouse) -> None:
    from herald.segments.service import unknown_profiles

    shop(warehouse, {"a": None, "b": None})
    assert unknown_profiles(warehouse, "shop", ["a", "ghost", "b", "нет"]) == ["ghost", "нет"]
