"""`herald segment ...` as a user runs it: definitions saved from files, members computed by a
Dagster run, explained, estimated, frozen, kept as lists, refreshed, listed and deleted, with
one-line errors for definitions that cannot be saved; the main flow on DuckDB, a shorter one
on chdb; and the sensor that gives a new segment its partition and first run.

The shop (six clients imported and unified) is set up once per module: every `herald` call
is a subprocess of a few seconds, so the tests share it and each one owns its segments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.resources import StoreResource
from assets.segments import SEGMENT_PARTITIONS, build_segment_sensor
from herald.settings import load_settings
from tests.support.cli import REPO, run_herald

CLIENTS = """id,email,given_name,level,bonus_points,city
c1,ann@example.com,Ann,gold,120,Moscow
c2,bob@example.com,Bob,gold,40,Kazan
c3,cat@example.com,Cat,silver,300,Moscow
c4,dan@example.com,Dan,bronze,0,Perm
c5,eve@example.com,Eve,gold,500,Moscow
c6,fay@example.com,Fay,silver,10,Kazan
"""


def dynamic(name: str, where: str) -> str:
    """A dynamic segment of the shop with the flow-style condition `where`."""
    return f"name: {name}\ndatabase: shop\nwhere: {where}\n"


DEFINITIONS = {
    "gold.yml": """\
name: gold
database: shop
title: Gold customers with points
where:
  all:
    - {field: level, op: equals, value: gold}
    - {field: bonus_points, op: at_least, value: 100}
""",
    "moscow.yml": dynamic("moscow", "{field: city, op: equals, value: Moscow}"),
    "moscow-v2.yml": dynamic("moscow", "{field: city, op: equals, value: Kazan}"),
    "silver.yml": dynamic("silver", "{field: level, op: equals, value: silver}"),
    "vip.yml": "name: vip\ndatabase: shop\nkind: static\ntitle: VIP list\n",
    "gold-in-moscow.yml": dynamic(
        "gold-in-moscow", "{all: [{segment: gold}, {field: city, op: equals, value: Moscow}]}"
    ),
    "unknown-field.yml": dynamic("bad", "{field: shoe_size, op: equals, value: 42}"),
    "wrong-type.yml": dynamic("bad", "{field: bonus_points, op: at_least, value: lots}"),
    "unknown-segment.yml": dynamic("bad", "{segment: churned}"),
    "cycle.yml": dynamic("gold", "{segment: gold-in-moscow}"),
    "malformed.yml": dynamic("bad", "{all: [{field: level, op: equals"),
}


def profile(key: str) -> str:
    """The profile id unify gives the client `key` of clients.csv."""
    return f"p_shop:clients.csv:{key}"


class Shop:
    """A HERALD_HOME with the shop unified, the definition files, and `herald` to run."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.home = folder / "home"
        self.files = folder / "files"
        self.env = env or {}
        self.files.mkdir(parents=True)
        (self.files / "clients.csv").write_text(CLIENTS, encoding="utf-8")
        for name, text in DEFINITIONS.items():
            (self.files / name).write_text(text, encoding="utf-8")
        self.ok("db", "apply", "--schema", str(REPO / "docs/schemas/shop.yml"), output=False)
        self.ok("import", str(self.files / "clients.csv"), "--db", "shop", "--key", "id")
        self.ok("unify", "--db", "shop")

    def run(self, *args: str) -> Any:
        return run_herald(list(args), self.home, env=self.env)

    def ok(self, *args: str, output: bool = True) -> Any:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if output else done.stdout

    def file(self, name: str) -> str:
        return str(self.files / name)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    return Shop(tmp_path_factory.mktemp("segment-cli"))


@pytest.fixture(scope="module")
def gold(shop: Shop) -> dict[str, Any]:
    """`herald segment create --file gold.yml`: saved, then computed."""
    return dict(shop.ok("segment", "create", "--file", shop.file("gold.yml")))


@pytest.fixture(scope="module")
def gold_in_moscow(shop: Shop, gold: dict[str, Any]) -> dict[str, Any]:
    """A segment naming `gold`, saved without computing it."""
    return dict(
        shop.ok("segment", "create", "--file", shop.file("gold-in-moscow.yml"), "--no-refresh")
    )


# --- create, members, explain, estimate ---------------------------------------------------


def test_create_saves_the_segment_and_computes_its_members(gold: dict[str, Any]) -> None:
    assert (gold["segment"]["name"], gold["segment"]["kind"], gold["segment"]["version"]) == (
        "gold",
        "dynamic",
        1,
    )
    [report] = gold["refresh"]["segments"]
    assert (report["segment_id"], report["members"], report["entered"]) == ("gold", 2, 2)


def test_members_lists_the_computed_profiles_by_id(shop: Shop, gold: dict[str, Any]) -> None:
    listed = shop.ok("segment", "members", "gold")

    assert listed["members"] == 2
    assert [row["profile_id"] for row in listed["profiles"]] == [profile("c1"), profile("c5")]


def test_explain_shows_each_condition_with_its_value(shop: Shop, gold: dict[str, Any]) -> None:
    explained = shop.ok("segment", "explain", "gold", "--profile", profile("c2"))

    assert explained["member"] is False
    tree = explained["tree"]
    assert (tree["condition"]["kind"], tree["result"]) == ("all", False)
    assert [(child["result"], child["value"]) for child in tree["children"]] == [
        (True, "gold"),
        (False, 40),
    ]


def test_estimate_counts_an_unsaved_definition(shop: Shop) -> None:
    estimated = shop.ok("segment", "estimate", "--file", shop.file("silver.yml"))

    assert (estimated["members"], estimated["total"]) == (2, 6)
    assert shop.run("segment", "show", "silver").returncode == 1


# --- versions and freezing ----------------------------------------------------------------


def test_a_frozen_copy_keeps_its_members_when_the_source_changes(shop: Shop) -> None:
    shop.ok("segment", "create", "--file", shop.file("moscow.yml"))
    shop.ok("segment", "freeze", "moscow", "--as", "moscow-nov")

    changed = shop.ok("segment", "create", "--file", shop.file("moscow-v2.yml"))
    frozen = shop.ok("segment", "members", "moscow-nov", "--count")

    assert changed["segment"]["version"] == 2
    assert changed["refresh"]["segments"][0]["members"] == 2  # Kazan: c2 and c6
    assert frozen == {"segment": "moscow-nov", "members": 3}  # Moscow: c1, c3 and c5


# --- static lists and refresh -------------------------------------------------------------


def test_a_static_list_takes_ids_and_files_and_counts_at_refresh(shop: Shop) -> None:
    ids = Path(shop.file("vip-ids.csv"))
    ids.write_text(f"profile_id\n{profile('c3')}\n{profile('c4')}\n", encoding="utf-8")
    shop.ok("segment", "create", "--file", shop.file("vip.yml"), "--no-refresh")
    added = shop.ok(
        "segment", "add", "vip", profile("c1"), profile("c2"), "--file", str(ids), "--no-refresh"
    )
    removed = shop.ok("segment", "remove", "vip", profile("c2"), "--no-refresh")

    refreshed = shop.ok("segment", "refresh", "vip")
    listed = shop.ok("segment", "members", "vip")

    assert (added["changed"], removed["changed"]) == (4, 1)
    assert [report["members"] for report in refreshed["segments"]] == [3]
    assert [row["profile_id"] for row in listed["profiles"]] == [
        profile("c1"),
        profile("c3"),
        profile("c4"),
    ]


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["create", "--file", "unknown-field.yml", "--no-refresh"],
            "where.field: database 'shop' has no field 'shoe_size' (fields: email, phone,",
            id="unknown field",
        ),
        pytest.param(
            ["create", "--file", "wrong-type.yml", "--no-refresh"],
            "where.value: 'lots' is not a whole number",
            id="wrong value type",
        ),
        pytest.param(
            ["create", "--file", "unknown-segment.yml", "--no-refresh"],
            "where: there is no segment 'churned' to refer to",
            id="unknown segment",
        ),
        pytest.param(
            ["create", "--file", "cycle.yml", "--no-refresh"],
            "where: segments would depend on each other in a cycle: gold -> gold-in-moscow -> gold",
            id="cycle",
        ),
        pytest.param(
            ["create", "--file", "malformed.yml", "--no-refresh"],
            "malformed.yml: not valid YAML or JSON",
            id="malformed yaml",
        ),
        pytest.param(
            ["explain", "gold", "--profile", "nobody"],
            "database 'shop' has no profile 'nobody'",
            id="unknown profile",
        ),
    ],
)
def test_a_refused_command_says_why_in_one_line(
    shop: Shop, gold_in_moscow: dict[str, Any], args: list[str], message: str
) -> None:
    args = [shop.file(arg) if arg.endswith(".yml") else arg for arg in args]

    done = shop.run("segment", *args)

    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("herald: ")
    assert message in done.stderr


# --- delete and list ----------------------------------------------------------------------


def test_a_segment_named_by_another_is_kept_until_that_one_goes(
    shop: Shop, gold_in_moscow: dict[str, Any]
) -> None:
    refused = shop.run("segment", "delete", "gold")
    deleted = shop.ok("segment", "delete", "gold-in-moscow")

    listed = {row["name"]: row for row in shop.ok("segment", "list")}

    assert refused.returncode == 1
    assert (
        refused.stderr == "herald: segment 'gold' is named by gold-in-moscow; change those first\n"
    )
    assert deleted == {"deleted": "gold-in-moscow"}
    assert "gold-in-moscow" not in listed
    assert (listed["gold"]["version"], listed["gold"]["members"]) == (1, 2)


# --- the sensor ---------------------------------------------------------------------------


def test_the_sensor_adds_a_partition_and_requests_a_run_for_a_new_segment(
    shop: Shop, gold: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_HOME", str(shop.home))
    monkeypatch.delenv("HERALD_DATABASE", raising=False)
    sensor = build_segment_sensor(StoreResource.from_settings(load_settings()))

    with dg.DagsterInstance.ephemeral() as instance:
        result = sensor(dg.build_sensor_context(instance=instance))

    assert isinstance(result, dg.SensorResult)
    added = [
        request
        for request in result.dynamic_partitions_requests or []
        if isinstance(request, dg.AddDynamicPartitionsRequest)
    ]
    assert [request.partitions_def_name for request in added] == [SEGMENT_PARTITIONS.name]
    assert "gold" in added[0].partition_keys
    requested = [request.partition_key for request in result.run_requests or []]
    assert "gold" in requested and len(requested) == len(set(requested))


# --- chdb ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chdb_shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    folder = tmp_path_factory.mktemp("segment-cli-chdb")
    return Shop(folder, env={"HERALD_WAREHOUSE": f"chdb://{folder / 'ch'}"})


@pytest.fixture(scope="module")
def chdb_gold(chdb_shop: Shop) -> dict[str, Any]:
    return dict(chdb_shop.ok("segment", "create", "--file", chdb_shop.file("gold.yml")))


def test_on_chdb_create_computes_the_same_members(
    chdb_shop: Shop, chdb_gold: dict[str, Any]
) -> None:
    listed = chdb_shop.ok("segment", "members", "gold")

    assert chdb_gold["refresh"]["segments"][0]["members"] == 2
    assert [row["profile_id"] for row in listed["profiles"]] == [profile("c1"), profile("c5")]


def test_on_chdb_explain_gives_the_same_tree(chdb_shop: Shop, chdb_gold: dict[str, Any]) -> None:
    explained = chdb_shop.ok("segment", "explain", "gold", "--profile", profile("c2"))

    assert explained["member"] is False
    assert [(child["result"], child["value"]) for child in explained["tree"]["children"]] == [
        (True, "gold"),
        (False, 40),
    ]
