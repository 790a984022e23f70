"""Profile databases in the operational store, on SQLite and PostgreSQL, and `herald db`.

PostgreSQL: the server at HERALD_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432, trust
auth), as in test_store.py: one throwaway database per session, its `public` schema emptied
before every test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from herald.errors import HeraldError
from herald.profiles import (
    IncompatibleSchemaChange,
    ProfileDatabaseExists,
    ProfileSchema,
    UnknownProfileDatabase,
    apply_schema,
    create_database,
    delete_database,
    get_database,
    list_databases,
    load_schema,
    parse_schema,
    rename_database,
    schema_history,
    update_schema,
)
from herald.store import (
    ProfileDatabase,
    ProfileSchemaVersion,
    create_store_engine,
    migrate,
    session_scope,
)
from tests.conftest import emptied

REPO_ROOT = Path(__file__).resolve().parents[2]
SHOP_SCHEMA = REPO_ROOT / "docs" / "schemas" / "shop.yml"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new, migrated store."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store' / 'herald.sqlite'}"
    else:
        url = emptied(request.getfixturevalue("postgres_database"))
    migrate(url)
    store_engine = create_store_engine(url)
    yield store_engine
    store_engine.dispose()


def shop(**changes: Any) -> ProfileSchema:
    """The example schema of docs/schemas/shop.yml, with top-level keys replaced."""
    return parse_schema({**load_schema(SHOP_SCHEMA).to_document(), **changes})


def with_field(schema: ProfileSchema, **field: Any) -> ProfileSchema:
    document = schema.to_document()
    return parse_schema({**document, "fields": [*document["fields"], field]})


def b2b() -> ProfileSchema:
    return parse_schema(
        {
            "database": "b2b",
            "title": "B2B",
            "fields": [
                {"name": "inn", "type": "string", "identifier": "custom:inn"},
                {"name": "email", "type": "string", "identifier": "email"},
            ],
        }
    )


def _version_rows(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(ProfileSchemaVersion)) or 0


# --- operations ---------------------------------------------------------------------------


def test_a_created_database_has_its_schema_as_version_1(engine: Engine) -> None:
    created = create_database(engine, shop())

    info = get_database(engine, "shop")
    assert info == created
    assert (info.name, info.title, info.version, info.schema) == ("shop", "Shop RU", 1, shop())
    assert info.created_at.tzinfo is not None
    assert abs(datetime.now(UTC) - info.created_at) < timedelta(minutes=1)
    assert [(v.version, v.comment) for v in schema_history(engine, "shop")] == [(1, "created")]


def test_creating_a_database_that_exists_is_an_error(engine: Engine) -> None:
    create_database(engine, shop())

    with pytest.raises(ProfileDatabaseExists, match="a profile database 'shop' exists already"):
        create_database(engine, shop(title="Another shop"))

    assert get_database(engine, "shop").title == "Shop RU"


def test_list_shows_every_database_by_name_with_its_current_version(engine: Engine) -> None:
    create_database(engine, shop())
    create_database(engine, b2b())
    update_schema(engine, shop(title="Shop"))

    listed = list_databases(engine)

    assert [(info.name, info.title, info.version) for info in listed] == [
        ("b2b", "B2B", 1),
        ("shop", "Shop", 2),
    ]
    assert listed[1].schema == shop(title="Shop")


def test_list_of_an_empty_store_is_empty(engine: Engine) -> None:
    assert list_databases(engine) == []


def test_an_unchanged_schema_makes_no_new_version(engine: Engine) -> None:
    created = create_database(engine, shop())

    update = update_schema(engine, shop(), comment="again")

    assert (update.version, update.changed, update.changes) == (1, False, ())
    assert get_database(engine, "shop").updated_at == created.updated_at
    assert len(schema_history(engine, "shop")) == 1


def test_a_compatible_change_makes_a_new_version(engine: Engine) -> None:
    create_database(engine, shop())
    new = with_field(shop(), name="vip", type="boolean", default=False)

    update = update_schema(engine, new, comment="VIP flag")

    assert (update.version, update.changes) == (2, ("added field 'vip' (boolean)",))
    info = get_database(engine, "shop")
    assert (info.version, info.schema) == (2, new)
    assert info.updated_at >= info.created_at
    history = schema_history(engine, "shop")
    assert [(v.version, v.comment) for v in history] == [(1, "created"), (2, "VIP flag")]
    assert history[0].schema == shop()


def test_an_incompatible_change_is_refused_and_keeps_the_schema(engine: Engine) -> None:
    create_database(engine, shop())
    document = shop().to_document()
    for field in document["fields"]:
        if field["name"] == "bonus_points":
            field["type"] = "float"
        if field["name"] == "level":
            field["values"] = ["bronze", "gold"]

    with pytest.raises(IncompatibleSchemaChange) as raised:
        update_schema(engine, parse_schema(document))

    assert str(raised.value).splitlines() == [
        "cannot change the schema of 'shop':",
        "  field 'level' loses enum values silver, which profiles may hold; keep them",
        "  field 'bonus_points' changes type from integer to float; the values kept may not "
        "convert: add a field with a new name instead",
    ]
    assert get_database(engine, "shop").version == 1


def test_removing_a_field_needs_allow_removal(engine: Engine) -> None:
    create_database(engine, shop())
    document = shop().to_document()
    without_tags = parse_schema(
        {**document, "fields": [f for f in document["fields"] if f["name"] != "tags"]}
    )

    with pytest.raises(IncompatibleSchemaChange, match="field 'tags' is removed"):
        update_schema(engine, without_tags)
    update = update_schema(engine, without_tags, allow_removal=True)

    assert (update.version, update.changes) == (2, ("removed field 'tags'",))


def test_updating_a_database_that_does_not_exist_is_an_error(engine: Engine) -> None:
    with pytest.raises(UnknownProfileDatabase, match="there is no profile database 'shop'"):
        update_schema(engine, shop())


def test_apply_creates_then_updates(engine: Engine) -> None:
    created = apply_schema(engine, shop())
    unchanged = apply_schema(engine, shop())
    updated = apply_schema(engine, shop(title="Shop"), comment="shorter title")

    assert (created.created, created.version) == (True, 1)
    assert (unchanged.changed, unchanged.version) == (False, 1)
    assert (updated.changed, updated.version, updated.changes) == (
        True,
        2,
        ("title 'Shop RU' -> 'Shop'",),
    )
    assert get_database(engine, "shop").title == "Shop"


def test_rename_changes_the_name_and_the_schema_in_a_new_version(engine: Engine) -> None:
    create_database(engine, shop())

    renamed = rename_database(engine, "shop", "shop_ru")

    assert (renamed.name, renamed.version, renamed.schema) == (
        "shop_ru",
        2,
        shop(database="shop_ru"),
    )
    assert [
        (v.version, v.schema.database, v.comment) for v in schema_history(engine, "shop_ru")
    ] == [
        (1, "shop", "created"),
        (2, "shop_ru", "renamed from shop"),
    ]
    with pytest.raises(UnknownProfileDatabase):
        get_database(engine, "shop")


def test_rename_to_a_name_in_use_is_an_error(engine: Engine) -> None:
    create_database(engine, shop())
    create_database(engine, b2b())

    with pytest.raises(ProfileDatabaseExists, match="'b2b' exists already"):
        rename_database(engine, "shop", "b2b")

    assert get_database(engine, "shop").version == 1


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("shop", "Shop RU", "cannot rename 'shop': database name 'Shop RU' must be lowercase"),
        ("shop", "shop", "the profile database is already called 'shop'"),
        ("nope", "other", "there is no profile database 'nope'"),
    ],
)
def test_a_wrong_rename_is_an_error(engine: Engine, old: str, new: str, message: str) -> None:
    create_database(engine, shop())

    with pytest.raises(HeraldError, match=message):
        rename_database(engine, old, new)


def test_delete_removes_the_database_and_its_history(engine: Engine) -> None:
    create_database(engine, shop())
    update_schema(engine, shop(title="Shop"))
    create_database(engine, b2b())

    delete_database(engine, "shop")

    assert [info.name for info in list_databases(engine)] == ["b2b"]
    assert _version_rows(engine) == 1
    with pytest.raises(UnknownProfileDatabase):
        schema_history(engine, "shop")


def test_deleting_a_database_that_does_not_exist_is_an_error(engine: Engine) -> None:
    with pytest.raises(UnknownProfileDatabase, match="'shop'"):
        delete_database(engine, "shop")


def test_a_deleted_name_can_be_created_again(engine: Engine) -> None:
    create_database(engine, shop())
    delete_database(engine, "shop")

    again = create_database(engine, shop(title="Shop again"))

    assert (again.version, again.title) == (1, "Shop again")


def test_the_store_refuses_two_versions_with_one_number(engine: Engine) -> None:
    create_database(engine, shop())

    with pytest.raises(IntegrityError), session_scope(engine) as session:
        database_id = session.scalars(select(ProfileDatabase.id)).one()
        session.add(ProfileSchemaVersion(database_id=database_id, version=1, schema={}))


def test_the_store_refuses_two_databases_with_one_name(engine: Engine) -> None:
    create_database(engine, shop())

    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(ProfileDatabase(name="shop"))


def test_concurrent_updates_make_distinct_versions(engine: Engine) -> None:
    create_database(engine, shop())
    failures: list[BaseException] = []

    def retitle(number: int) -> None:
        try:
            update_schema(engine, shop(title=f"Shop {number}"))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=retitle, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert [v.version for v in schema_history(engine, "shop")] == [1, 2, 3, 4, 5]


# --- the command line ---------------------------------------------------------------------


def herald_db(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HERALD_HOME": str(home)}
    env.pop("HERALD_DATABASE", None)
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", "db", *args],
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_manages_a_database_from_its_schema_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    changed = tmp_path / "shop.yml"
    changed.write_text(
        SHOP_SCHEMA.read_text().replace("[bronze, silver, gold]", "[bronze, silver, gold, vip]")
    )

    create = herald_db(home, "create", "--schema", str(SHOP_SCHEMA))
    apply = herald_db(home, "apply", "--schema", str(changed), "--comment", "vip level")
    listed = herald_db(home, "list")
    show = herald_db(home, "show", "shop")
    rename = herald_db(home, "rename", "shop", "shop_ru")
    history = herald_db(home, "history", "shop_ru")

    assert create.stdout == "created shop (14 fields), schema version 1\n", create.stderr
    assert apply.stdout.splitlines() == [
        "updated shop to schema version 2",
        "  field 'level': added values vip",
    ]
    assert listed.stdout.splitlines()[0].split() == [
        "name",
        "title",
        "version",
        "fields",
        "updated",
    ]
    assert listed.stdout.splitlines()[1].split()[:6] == [
        "shop",
        "Shop",
        "RU",
        "2",
        "14",
        datetime.now(UTC).strftime("%Y-%m-%d"),
    ]
    assert show.stdout.startswith("# Shop RU: schema version 2, updated ")
    shown = tmp_path / "shown.yml"
    shown.write_text(show.stdout)
    assert load_schema(shown) == load_schema(changed)
    assert rename.stdout == "renamed shop to shop_ru, schema version 3\n"
    assert [line.split()[0] for line in history.stdout.splitlines()] == ["v1", "v2", "v3"]
    assert history.stdout.splitlines()[1].endswith("vip level")
    assert (home / "herald.sqlite").is_file()


def test_the_cli_deletes_only_with_yes(tmp_path: Path) -> None:
    herald_db(tmp_path, "create", "--schema", str(SHOP_SCHEMA))

    refused = herald_db(tmp_path, "delete", "shop")
    deleted = herald_db(tmp_path, "delete", "shop", "--yes")
    listed = herald_db(tmp_path, "list")

    assert (refused.returncode, refused.stderr) == (
        1,
        "herald: deleting 'shop' removes its schema history; add --yes\n",
    )
    assert (deleted.returncode, deleted.stdout) == (0, "deleted shop\n")
    assert listed.stdout == "no profile databases yet: herald db create --schema schema.yml\n"


def test_cli_errors_are_one_message_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "database: shop\nfields:\n  - {name: level, type: enum, values: [a], default: b}\n"
    )

    invalid = herald_db(tmp_path, "apply", "--schema", str(bad))
    unknown = herald_db(tmp_path, "show", "nope")

    assert (invalid.returncode, invalid.stdout) == (1, "")
    assert invalid.stderr == f"herald: {bad}: fields[0] 'level': default 'b' is not one of a\n"
    assert (unknown.returncode, unknown.stderr) == (
        1,
        "herald: there is no profile database 'nope' (herald db list shows them)\n",
    )
