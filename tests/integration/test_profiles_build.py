"""Profiles from imported records on both embedded engines: unification per database, the
golden record, distinct identifiers and the typed view per database."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from herald.landing import load_landing
from herald.models.build import target_of
from herald.models.materialize import materialize_model
from herald.models.project import SqlProject
from herald.models.render import Renderer
from herald.profiles.build import build_profiles
from herald.profiles.records import ProfileRecord, records_table, write_records_file
from herald.profiles.schema import ProfileSchema, parse_schema_yaml
from herald.warehouse.base import Warehouse

SHOP = parse_schema_yaml(
    """
database: shop
fields:
  - {name: email, type: string, identifier: email}
  - {name: phone, type: string, identifier: phone}
  - {name: first_name, type: string, match: given_name}
  - {name: birthday, type: date}
  - {name: level, type: enum, values: [bronze, silver, gold]}
  - {name: orders, type: integer}
  - {name: vip, type: boolean}
  - {name: tags, type: list}
"""
)
B2B = parse_schema_yaml(
    """
database: b2b
fields:
  - {name: email, type: string, identifier: email}
  - {name: company, type: string}
  - {name: seen_at, type: datetime}
"""
)


def land(
    landing: Path,
    database: str,
    source: str,
    import_id: str,
    imported_at: datetime,
    records: list[tuple[str, dict[str, Any]]],
) -> None:
    table = records_table(
        [ProfileRecord(number, key, fields) for number, (key, fields) in enumerate(records, 1)],
        database=database,
        source=source,
        import_id=import_id,
        mode="upsert",
        imported_at=imported_at,
    )
    write_records_file(landing, import_id, 0, table)


def load(warehouse: Warehouse, landing: Path) -> None:
    project = SqlProject.load()
    table = next(t for t in project.sources.values() if t.name == "profile_records")
    load_landing(warehouse, landing, table)
    renderer = Renderer(project, target_of(warehouse))
    materialize_model(warehouse, renderer, project.models["stg_profiles__records"])


def rows(warehouse: Warehouse, sql: str) -> list[dict[str, Any]]:
    return warehouse.query_arrow(sql).to_pylist()


def import_and_build(warehouse: Warehouse, landing: Path) -> dict[str, Any]:
    first, second = datetime(2026, 1, 10, 9, 0), datetime(2026, 2, 1, 12, 0)
    land(
        landing,
        "shop",
        "crm",
        "imp-1",
        first,
        [
            ("c1", {"email": "ann@example.com", "first_name": "Anna", "level": "bronze",
                    "orders": 3, "vip": False, "tags": ["a"], "birthday": date(1990, 5, 17)}),
            ("c2", {"email": "bob@example.com", "phone": "+79161234567", "first_name": "Bob"}),
            ("c3", {"email": None, "phone": None, "first_name": "Nobody"}),
        ],
    )  # fmt: skip
    land(
        landing,
        "shop",
        "web",
        "imp-2",
        second,
        [
            # Shares the phone with crm:c2 ...
            ("w1", {"phone": "+79161234567", "first_name": "Bob", "level": "gold"}),
            # ... and the e-mail with crm:c1: later, so its non-empty values win.
            ("w2", {"email": "ann@example.com", "first_name": "Anna", "level": "silver",
                    "orders": None, "vip": True, "tags": [], "phone": "+79160000001"}),
        ],
    )  # fmt: skip
    land(
        landing,
        "b2b",
        "crm",
        "imp-3",
        first,
        [
            ("k1", {"email": "ann@example.com", "company": "Acme",
                    "seen_at": datetime(2026, 1, 9, 8, 30)}),
            ("k2", {"email": "ann@example.com", "company": ""}),
        ],
    )  # fmt: skip
    load(warehouse, landing)
    return build_profiles(warehouse, [SHOP, B2B])


@pytest.fixture
def built(warehouse: Warehouse, tmp_path: Path) -> tuple[Warehouse, dict[str, Any]]:
    return warehouse, import_and_build(warehouse, tmp_path / "landing")


def golden(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    found = rows(warehouse, "select profile_id, fields from profiles")
    return {row["profile_id"]: json.loads(row["fields"]) for row in found}


def test_records_sharing_an_identifier_become_one_profile_per_database(
    built: tuple[Warehouse, dict[str, Any]],
) -> None:
    warehouse, report = built
    mapping = {
        (row["database"], row["source"], row["record_key"]): row["profile_id"]
        for row in rows(warehouse, "select * from profile_records")
    }
    assert mapping == {
        ("shop", "crm", "c1"): "p_shop:crm:c1",
        ("shop", "web", "w2"): "p_shop:crm:c1",
        ("shop", "crm", "c2"): "p_shop:crm:c2",
        ("shop", "web", "w1"): "p_shop:crm:c2",
        ("shop", "crm", "c3"): "p_shop:crm:c3",
        # The same e-mail in another database is another profile.
        ("b2b", "crm", "k1"): "p_b2b:crm:k1",
        ("b2b", "crm", "k2"): "p_b2b:crm:k1",
    }
    assert report["databases"]["shop"]["profiles"] == 3
    assert report["databases"]["b2b"]["profiles"] == 1
    assert report["records"] == 7 and report["profiles"] == 4
    # Each identifier once, NULLs left out.
    found = rows(
        warehouse,
        "select profile_id, database, kind, value from profile_identifiers "
        "order by database, profile_id, kind, value",
    )
    assert [tuple(row.values()) for row in found] == [
        ("p_b2b:crm:k1", "b2b", "email", "ann@example.com"),
        ("p_shop:crm:c1", "shop", "email", "ann@example.com"),
        ("p_shop:crm:c1", "shop", "phone", "+79160000001"),
        ("p_shop:crm:c2", "shop", "email", "bob@example.com"),
        ("p_shop:crm:c2", "shop", "phone", "+79161234567"),
    ]


def test_the_golden_record_takes_the_latest_non_empty_value_per_field_typed_per_database(
    built: tuple[Warehouse, dict[str, Any]],
) -> None:
    warehouse, _ = built
    assert golden(warehouse) == {
        "p_shop:crm:c1": {
            "email": "ann@example.com",
            "phone": "+79160000001",
            "first_name": "Anna",
            "level": "silver",  # the later import
            "orders": 3,  # the later one is empty
            "vip": True,  # false is a value; the later true wins
            "tags": ["a"],  # the later list is empty
            "birthday": "1990-05-17",
        },
        "p_shop:crm:c2": {
            "email": "bob@example.com",
            "phone": "+79161234567",
            "first_name": "Bob",
            "level": "gold",
        },
        "p_shop:crm:c3": {"first_name": "Nobody"},
        "p_b2b:crm:k1": {
            "email": "ann@example.com",
            "company": "Acme",  # row 2's empty text does not count
            "seen_at": "2026-01-09T08:30:00",
        },
    }
    spans = rows(
        warehouse,
        "select profile_id, created_at, updated_at from profiles order by profile_id",
    )
    times = {row["profile_id"]: (row["created_at"], row["updated_at"]) for row in spans}
    assert [value.replace(tzinfo=None) for value in times["p_shop:crm:c1"]] == [
        datetime(2026, 1, 10, 9, 0),
        datetime(2026, 2, 1, 12, 0),
    ]
    # The view of each database: a typed column per field.
    shop = rows(warehouse, "select * from profiles__shop order by profile_id")
    assert [column.name for column in warehouse.columns("profiles__shop")] == [
        "profile_id",
        "database",
        "created_at",
        "updated_at",
        *(field.name for field in SHOP.fields),
    ]
    first = shop[0]
    assert first["profile_id"] == "p_shop:crm:c1"
    assert first["birthday"] == date(1990, 5, 17)
    assert first["orders"] == 3 and first["vip"] is True and first["tags"] == ["a"]
    assert shop[2]["orders"] is None and shop[2]["tags"] == [] and shop[2]["birthday"] is None
    b2b = rows(warehouse, "select * from profiles__b2b")
    assert b2b[0]["seen_at"].replace(tzinfo=None) == datetime(2026, 1, 9, 8, 30)


def test_rebuilding_gives_the_same_tables_and_an_empty_database_gets_a_view(
    built: tuple[Warehouse, dict[str, Any]],
) -> None:
    warehouse, _ = built
    before = golden(warehouse)
    empty = ProfileSchema.model_validate(
        {"database": "empty", "fields": [{"name": "email", "type": "string"}]}
    )
    report = build_profiles(warehouse, [SHOP, B2B, empty])
    assert golden(warehouse) == before
    assert report["databases"]["empty"] == {
        "records": 0,
        "skipped": 0,
        "junk_values": [],
        "fuzzy_merged": 0,
        "seconds": report["databases"]["empty"]["seconds"],
        "profiles": 0,
        "identifiers": 0,
    }
    assert rows(warehouse, "select count(*) as n from profiles__empty") == [{"n": 0}]


def comparable(value: object) -> str:
    """A value as text, a timestamp without its zone (ClickHouse's are UTC-aware)."""
    if isinstance(value, datetime):
        value = value.replace(tzinfo=None)
    return repr(value)


def test_duckdb_and_chdb_build_identical_tables(
    duckdb_warehouse: Warehouse, chdb_warehouse: Warehouse, tmp_path: Path
) -> None:
    queries = {
        "profile_records": "select * from profile_records",
        "profile_identifiers": "select * from profile_identifiers",
        "profiles": "select * from profiles",
    }
    dumps = []
    for number, warehouse in enumerate((duckdb_warehouse, chdb_warehouse)):
        import_and_build(warehouse, tmp_path / f"landing{number}")
        dumps.append(
            {
                name: sorted(
                    tuple(comparable(value) for value in row.values())
                    for row in rows(warehouse, sql)
                )
                for name, sql in queries.items()
            }
        )
    assert dumps[0] == dumps[1]


def test_rebuilding_one_database_keeps_the_others(
    built: tuple[Warehouse, dict[str, Any]],
) -> None:
    warehouse, _ = built
    before = golden(warehouse)
    report = build_profiles(warehouse, [B2B], keep_others=True)
    assert list(report["databases"]) == ["b2b"] and report["profiles"] == 1
    assert golden(warehouse) == before
    databases = rows(warehouse, "select distinct database from profile_records order by database")
    assert databases == [{"database": "b2b"}, {"database": "shop"}]


def test_a_profile_is_found_by_id_or_identifier(
    built: tuple[Warehouse, dict[str, Any]],
) -> None:
    from herald.cli_profiles import find_profile
    from herald.errors import HeraldError

    warehouse, _ = built
    by_phone = find_profile(warehouse, "+7 916 123-45-67")
    assert by_phone["profile_id"] == "p_shop:crm:c2"
    assert by_phone["fields"]["level"] == "gold"
    assert by_phone["identifiers"] == [
        {"kind": "email", "value": "bob@example.com"},
        {"kind": "phone", "value": "+79161234567"},
    ]
    assert [(s["source"], s["record_key"]) for s in by_phone["sources"]] == [
        ("crm", "c2"),
        ("web", "w1"),
    ]
    assert find_profile(warehouse, "p_b2b:crm:k1")["database"] == "b2b"
    assert find_profile(warehouse, "Ann@Example.com", "b2b")["profile_id"] == "p_b2b:crm:k1"
    with pytest.raises(HeraldError, match="identifies 2 profiles"):
        find_profile(warehouse, "ann@example.com")
    with pytest.raises(HeraldError, match="no profile has"):
        find_profile(warehouse, "it's-nobody\\")


def shop_ids(warehouse: Warehouse) -> dict[str, str]:
    found = rows(warehouse, "select * from profile_records where database = 'shop'")
    return {f"{row['source']}:{row['record_key']}": row["profile_id"] for row in found}


def history(warehouse: Warehouse) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    aliases = rows(
        warehouse,
        "select alias_id, profile_id, database from profile_aliases order by alias_id",
    )
    merges = rows(
        warehouse,
        "select database, kept_id, merged_id, build_id from profile_merges "
        "order by merged_at, merged_id",
    )
    return [tuple(row.values()) for row in aliases], [tuple(row.values()) for row in merges]


def test_profile_ids_are_stable_and_merged_ids_become_aliases(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    first = import_and_build(warehouse, landing)
    assert first["merged"] == 0 and history(warehouse) == ([], [])
    before = shop_ids(warehouse)

    def build(import_id: str, at: datetime, source: str, key: str, fields: dict[str, Any]) -> Any:
        land(landing, "shop", source, import_id, at, [(key, fields)])
        load(warehouse, landing)
        return build_profiles(warehouse, [SHOP, B2B])

    # A split: as if the previous build had c1 and c2 (both first imported on Jan 10) in one
    # profile. crm:c1 is its oldest record (a tie on time, then the smallest key): c1's part
    # keeps the id, c2's gets a new one (p_shop:crm:c2 is unused now).
    warehouse.create_table_as(
        "profile_records",
        "select database, source, import_id, row_number, record_key, "
        "case when profile_id = 'p_shop:crm:c2' then 'p_shop:crm:c1' else profile_id end "
        "as profile_id from profile_records",
    )
    warehouse.create_table_as(
        "profiles", "select * from profiles where profile_id <> 'p_shop:crm:c2'"
    )
    # In the same build, a record with a smaller key joins p_shop:crm:c1: the id stays. And a
    # new profile whose id is smaller than p_shop:crm:c2's, but created later.
    land(landing, "shop", "aaa", "imp-4", datetime(2026, 2, 15), [("x1", {"email": "z@x.io"})])
    report = build("imp-5", datetime(2026, 2, 15), "crm", "a0", {"email": "ann@example.com"})
    assert report["merged"] == 0
    ids = shop_ids(warehouse)
    assert ids == {**before, "crm:a0": "p_shop:crm:c1", "aaa:x1": "p_shop:aaa:x1"}

    # A record links p_shop:aaa:x1 and p_shop:crm:c2: the older one survives.
    linker = {"email": "z@x.io", "phone": "+79161234567"}
    report = build("imp-6", datetime(2026, 3, 1), "web", "w9", linker)
    assert report["merged"] == 1
    ids = shop_ids(warehouse)
    assert ids["aaa:x1"] == ids["web:w9"] == ids["crm:c2"] == "p_shop:crm:c2"
    assert ids["crm:c1"] == "p_shop:crm:c1" and ids["crm:c3"] == "p_shop:crm:c3"
    aliases, merges = history(warehouse)
    assert aliases == [("p_shop:aaa:x1", "p_shop:crm:c2", "shop")]
    assert [row[:3] for row in merges] == [("shop", "p_shop:crm:c2", "p_shop:aaa:x1")]
    assert merges[0][3] == report["build_id"]
    profiles = {row["profile_id"] for row in rows(warehouse, "select profile_id from profiles")}
    assert "p_shop:aaa:x1" not in profiles and "p_shop:crm:c2" in profiles

    # Nothing new: the same ids, no new merge rows.
    report = build_profiles(warehouse, [SHOP, B2B])
    assert report["merged"] == 0
    assert shop_ids(warehouse) == ids and history(warehouse) == (aliases, merges)

    # p_shop:crm:c2 merges into p_shop:crm:c1 (as old: the smaller id): its alias follows.
    linker = {"email": "ann@example.com", "phone": "+79161234567"}
    report = build("imp-7", datetime(2026, 3, 2), "web", "w8", linker)
    assert report["merged"] == 1
    assert set(shop_ids(warehouse).values()) == {"p_shop:crm:c1", "p_shop:crm:c3"}
    aliases, merges = history(warehouse)
    assert aliases == [
        ("p_shop:aaa:x1", "p_shop:crm:c1", "shop"),
        ("p_shop:crm:c2", "p_shop:crm:c1", "shop"),
    ]
    assert [row[:3] for row in merges] == [
        ("shop", "p_shop:crm:c2", "p_shop:aaa:x1"),
        ("shop", "p_shop:crm:c1", "p_shop:crm:c2"),
    ]
    # Rebuilding one database keeps the other's history and ids.
    build_profiles(warehouse, [B2B], keep_others=True)
    assert history(warehouse) == (aliases, merges)


def test_a_merged_id_still_finds_the_profile_it_was_merged_into(warehouse: Warehouse) -> None:
    from herald.cli_profiles import find_profile

    warehouse.create_table_as(
        "profiles",
        "select 'p_shop:crm:c1' as profile_id, 'shop' as database, "
        "cast(null as timestamp) as created_at, cast(null as timestamp) as updated_at, "
        '\'{"email": "a@b.ru"}\' as fields'
        if warehouse.dialect == "duckdb"
        else "select 'p_shop:crm:c1' as profile_id, 'shop' as database, "
        "cast(null as Nullable(DateTime64(3))) as created_at, "
        'cast(null as Nullable(DateTime64(3))) as updated_at, \'{"email": "a@b.ru"}\' as fields',
    )
    warehouse.create_table_as(
        "profile_identifiers",
        "select 'p_shop:crm:c1' as profile_id, 'shop' as database, 'email' as kind, "
        "'a@b.ru' as value",
    )
    warehouse.create_table_as(
        "profile_records",
        "select 'shop' as database, 'crm' as source, 'imp-1' as import_id, 2 as row_number, "
        "'c1' as record_key, 'p_shop:crm:c1' as profile_id",
    )
    warehouse.create_table_as(
        "profile_aliases",
        "select 'p_shop:crm:x9' as alias_id, 'p_shop:crm:c1' as profile_id, 'shop' as database",
    )
    profile = find_profile(warehouse, "p_shop:crm:x9")
    assert (profile["profile_id"], profile["alias_of"]) == ("p_shop:crm:c1", "p_shop:crm:x9")
    assert find_profile(warehouse, "p_shop:crm:c1").get("alias_of") is None
