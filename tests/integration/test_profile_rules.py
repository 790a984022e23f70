"""What an import's mode and match fields, a client-card edit and an undone merge do to the
profiles, on both embedded engines."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from herald.profiles.build import BuildRules, Unmerge, build_profiles
from herald.profiles.records import ProfileRecord, records_table, write_records_file
from herald.profiles.schema import parse_schema_yaml
from herald.warehouse.base import Warehouse
from tests.integration.test_profiles_build import load, rows

SHOP = parse_schema_yaml(
    """
database: shop
fields:
  - {name: email, type: string, identifier: email}
  - {name: phone, type: string, identifier: phone}
  - {name: customer_id, type: string, identifier: external_id}
  - {name: first_name, type: string, match: given_name}
  - {name: level, type: string}
"""
)
JAN, FEB, MAR, APR = (datetime(2026, month, 1, 9, 0) for month in (1, 2, 3, 4))


class Shop:
    """A landing folder, the warehouse and the rules of the next build."""

    def __init__(self, warehouse: Warehouse, landing: Path) -> None:
        self.warehouse = warehouse
        self.landing = landing
        self.rules = BuildRules()

    def land(
        self,
        import_id: str,
        at: datetime,
        records: list[tuple[str, dict[str, Any]]],
        *,
        source: str = "crm",
        mode: str = "upsert",
    ) -> None:
        table = records_table(
            [ProfileRecord(number, key, fields) for number, (key, fields) in enumerate(records, 1)],
            database="shop",
            source=source,
            import_id=import_id,
            mode=mode,
            imported_at=at,
        )
        write_records_file(self.landing, import_id, 0, table)

    def build(self) -> dict[str, Any]:
        load(self.warehouse, self.landing)
        return build_profiles(self.warehouse, [SHOP], rules=self.rules)

    def profile_of(self, source: str, key: str) -> str | None:
        found = rows(
            self.warehouse,
            f"select profile_id from profile_records where source = '{source}' "
            f"and record_key = '{key}'",
        )
        return found[0]["profile_id"] if found else None

    def fields(self, profile_id: str) -> dict[str, Any]:
        found = rows(
            self.warehouse, f"select fields from profiles where profile_id = '{profile_id}'"
        )
        assert len(found) == 1, profile_id
        return dict(json.loads(found[0]["fields"]))

    def profile_ids(self) -> set[str]:
        return {
            row["profile_id"] for row in rows(self.warehouse, "select profile_id from profiles")
        }

    def skipped(self) -> list[tuple[str, int, str]]:
        found = rows(
            self.warehouse,
            "select import_id, row_number, reason from profile_skipped_records "
            "order by import_id, row_number",
        )
        return [(row["import_id"], row["row_number"], row["reason"]) for row in found]


@pytest.fixture
def shop(warehouse: Warehouse, tmp_path: Path) -> Shop:
    shop = Shop(warehouse, tmp_path / "landing")
    shop.land(
        "imp-1",
        JAN,
        [
            ("c1", {"email": "ann@example.com", "first_name": "Anna", "level": "bronze",
                    "customer_id": "A-1"}),
            ("c2", {"email": "bob@example.com", "first_name": "Bob", "customer_id": "B-2"}),
        ],
    )  # fmt: skip
    return shop


def test_insert_only_adds_new_customers_and_leaves_existing_ones_alone(shop: Shop) -> None:
    shop.build()
    shop.land(
        "imp-2",
        FEB,
        [
            ("n1", {"email": "ann@example.com", "level": "gold"}),  # exists: skipped
            ("n2", {"email": "new@example.com", "level": "silver"}),
            ("n3", {"email": "new@example.com", "first_name": "Nina"}),  # same new customer
        ],
        source="fair",
        mode="insert",
    )
    report = shop.build()
    assert report["skipped"] == 1
    assert shop.skipped() == [("imp-2", 1, "insert only: the profile already exists")]
    ann = shop.profile_of("crm", "c1")
    assert ann is not None and shop.fields(ann)["level"] == "bronze"
    assert shop.profile_of("fair", "n1") is None
    new = shop.profile_of("fair", "n2")
    assert new is not None and new == shop.profile_of("fair", "n3")
    assert shop.fields(new) == {"email": "new@example.com", "first_name": "Nina", "level": "silver"}
    assert len(shop.profile_ids()) == 3


def test_update_only_changes_existing_customers_and_creates_none(shop: Shop) -> None:
    shop.land(
        "imp-2",
        FEB,
        [
            ("u1", {"email": "bob@example.com", "level": "gold"}),
            ("u2", {"email": "stranger@example.com", "level": "gold"}),  # no profile: skipped
        ],
        source="loyalty",
        mode="update",
    )
    report = shop.build()  # imports of two dates in one build: the order still counts
    assert report["skipped"] == 1
    assert shop.skipped() == [("imp-2", 2, "update only: no existing profile matches")]
    bob = shop.profile_of("crm", "c2")
    assert bob is not None and shop.profile_of("loyalty", "u1") == bob
    assert shop.fields(bob)["level"] == "gold"
    assert shop.profile_of("loyalty", "u2") is None
    assert len(shop.profile_ids()) == 2


def test_an_import_with_match_fields_links_by_them_only(shop: Shop) -> None:
    shop.build()
    shop.land(
        "imp-2",
        FEB,
        [
            # The same customer id as c1, another e-mail: Ann's new address.
            ("m1", {"customer_id": "A-1", "email": "ann.new@example.com"}),
            # Bob's e-mail but another customer id: not Bob, by this import's rule.
            ("m2", {"customer_id": "C-3", "email": "bob@example.com", "first_name": "Bob"}),
        ],
        source="erp",
    )
    shop.rules = BuildRules(match_fields={"imp-2": ("customer_id",)})
    shop.build()
    ann, bob = shop.profile_of("crm", "c1"), shop.profile_of("crm", "c2")
    assert shop.profile_of("erp", "m1") == ann
    assert shop.fields(ann or "")["email"] == "ann.new@example.com"
    other = shop.profile_of("erp", "m2")
    assert other is not None and other not in (ann, bob)
    assert shop.fields(bob or "")["customer_id"] == "B-2"

    # Without the rule, the e-mail links m2 to Bob.
    shop.rules = BuildRules()
    shop.build()
    assert shop.profile_of("erp", "m2") == shop.profile_of("crm", "c2")


def test_a_card_edit_joins_its_profile_and_wins_even_through_an_alias(shop: Shop) -> None:
    shop.build()
    ann = shop.profile_of("crm", "c1")
    assert ann is not None
    shop.land(
        "edit-1",
        FEB,
        [("e1", {"_profile_id": ann, "first_name": "Annette", "level": "gold"})],
        source="card",
    )
    shop.build()
    assert shop.profile_of("card", "e1") == ann
    assert shop.fields(ann)["first_name"] == "Annette"
    assert shop.fields(ann)["level"] == "gold"
    assert "_profile_id" not in shop.fields(ann)
    assert len(shop.profile_ids()) == 2

    # Bob's profile merges into Ann's (older); an edit naming Bob's old id still lands.
    bob = shop.profile_of("crm", "c2")
    assert bob is not None
    shop.land(
        "imp-3",
        MAR,
        [("w1", {"email": "ann@example.com", "phone": "+79161234567"}),
         ("w2", {"email": "bob@example.com", "phone": "+79161234567", "first_name": "Bob"})],
        source="web",
    )  # fmt: skip
    shop.build()
    merged = shop.profile_of("crm", "c2")
    assert merged == shop.profile_of("crm", "c1")
    shop.land("edit-2", APR, [("e2", {"_profile_id": bob, "level": "platinum"})], source="card")
    shop.build()
    assert shop.profile_of("card", "e2") == merged
    assert shop.fields(merged or "")["level"] == "platinum"


def test_an_undone_merge_gives_the_merged_records_their_profile_back(shop: Shop) -> None:
    shop.build()
    ann, bob = shop.profile_of("crm", "c1"), shop.profile_of("crm", "c2")
    assert ann is not None and bob is not None
    # One record carries Ann's e-mail and Bob's customer id: a wrong merge.
    shop.land(
        "imp-2", FEB, [("w1", {"email": "ann@example.com", "customer_id": "B-2"})], source="web"
    )
    report = shop.build()
    assert report["merged"] == 1
    assert shop.profile_of("crm", "c2") == ann
    merges = rows(shop.warehouse, "select kept_id, merged_id, build_id from profile_merges")
    assert [(row["kept_id"], row["merged_id"]) for row in merges] == [(ann, bob)]

    shop.rules = BuildRules(unmerges=(Unmerge("shop", ann, bob, merges[0]["build_id"]),))
    report = shop.build()
    assert shop.profile_of("crm", "c2") == bob
    assert shop.profile_of("crm", "c1") == shop.profile_of("web", "w1") == ann
    assert shop.fields(bob)["email"] == "bob@example.com"
    aliases = rows(shop.warehouse, "select alias_id from profile_aliases")
    assert bob not in {row["alias_id"] for row in aliases}
    # The history keeps the merge; later builds keep the two apart, ids unchanged.
    assert len(rows(shop.warehouse, "select * from profile_merges")) == 1
    shop.build()
    assert shop.profile_of("crm", "c2") == bob and shop.profile_of("crm", "c1") == ann


def test_mode_and_match_from_the_cli(tmp_path: Path) -> None:
    from tests.support.cli import run_herald as herald

    home = tmp_path / "home"
    assert herald(["db", "apply", "--schema", "docs/schemas/shop.yml"], home).returncode == 0
    clients = tmp_path / "clients.csv"
    clients.write_text(
        "id,email,loyalty_card,given_name,level\n"
        "1,ivan@mail.ru,L-1,Ivan,gold\n"
        "2,anna@example.com,L-2,Anna,bronze\n",
        encoding="utf-8",
    )
    assert herald(["import", str(clients), "--db", "shop", "--key", "id"], home).returncode == 0
    # Update only, matched by loyalty card: Ivan's new e-mail; L-9 is nobody, so skipped.
    cards = tmp_path / "cards.csv"
    cards.write_text(
        "card,email,level\nL-1,ivan.new@mail.ru,silver\nL-9,anna@example.com,gold\n",
        encoding="utf-8",
    )
    imported = herald(
        ["import", str(cards), "--db", "shop", "--source", "cards", "--key", "card",
         "--map", "card=loyalty_card", "--match", "loyalty_card", "--mode", "update"],
        home,
    )  # fmt: skip
    assert json.loads(imported.stdout)["accepted"] == 2, imported.stderr
    unified = herald(["unify", "--db", "shop"], home)
    assert unified.returncode == 0, unified.stderr
    shop = json.loads(unified.stdout)["databases"]["shop"]
    assert (shop["records"], shop["skipped"], shop["profiles"]) == (4, 1, 2)
    ivan = json.loads(herald(["profile", "show", "L-1"], home).stdout)
    assert ivan["fields"]["email"] == "ivan.new@mail.ru" and ivan["fields"]["level"] == "silver"
    anna = json.loads(herald(["profile", "show", "anna@example.com"], home).stdout)
    assert anna["fields"]["level"] == "bronze"  # L-9 shares her e-mail but matched by card


def test_undo_a_wrong_merge_from_the_cli(tmp_path: Path) -> None:
    from tests.support.cli import run_herald as herald

    home = tmp_path / "home"
    herald(["db", "apply", "--schema", "docs/schemas/shop.yml"], home)
    clients = tmp_path / "clients.csv"
    clients.write_text(
        "id,email,loyalty_card\n1,ivan@mail.ru,L-1\n2,anna@example.com,L-2\n", encoding="utf-8"
    )
    herald(["import", str(clients), "--db", "shop", "--key", "id"], home)
    herald(["unify"], home)
    # A typo'd loyalty card joins Anna to Ivan.
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,email,loyalty_card\n9,ivan@mail.ru,L-2\n", encoding="utf-8")
    herald(["import", str(wrong), "--db", "shop", "--source", "pos", "--key", "id"], home)
    unified = json.loads(herald(["unify"], home).stdout)
    assert unified["databases"]["shop"]["profiles"] == 1
    merges = json.loads(
        herald(["sql", "select kept_id, merged_id from profile_merges", "-f", "json"], home).stdout
    )
    assert merges == [{"kept_id": "p_shop:clients.csv:1", "merged_id": "p_shop:clients.csv:2"}]

    undone = herald(
        ["profile", "unmerge", "p_shop:clients.csv:2", "--db", "shop", "--by", "anna"], home
    )
    assert undone.returncode == 0, undone.stderr
    request = json.loads(undone.stdout)
    assert (request["kept_id"], request["records"], request["already_requested"]) == (
        "p_shop:clients.csv:1",
        1,
        False,
    )
    anna = json.loads(herald(["profile", "show", "anna@example.com"], home).stdout)
    ivan = json.loads(herald(["profile", "show", "ivan@mail.ru"], home).stdout)
    assert anna["profile_id"] == "p_shop:clients.csv:2"
    assert ivan["profile_id"] == "p_shop:clients.csv:1"
    assert sorted(source["record_key"] for source in ivan["sources"]) == ["1", "9"]

    again = herald(["profile", "unmerge", "p_shop:clients.csv:1", "--db", "shop"], home)
    assert again.returncode == 1 and "was never merged" in again.stderr
