"""From a file to one profile per customer, through the CLI: import, unify, show."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_herald as herald

CLIENTS = (
    "id,email,phone,given_name,level\n"
    "1,Ivan.Petrov@Mail.RU,8 916 123-45-67,Иван,gold\n"
    "2,,+7 916 123 45 67,Ivan,silver\n"
    "3,anna@example.com,,Anna,bronze\n"
)


def test_import_unify_and_show_a_profile(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert herald(["db", "apply", "--schema", "docs/schemas/shop.yml"], home).returncode == 0
    path = tmp_path / "clients.csv"
    path.write_text(CLIENTS, encoding="utf-8")
    imported = herald(["import", str(path), "--db", "shop", "--source", "crm", "--key", "id"], home)
    assert json.loads(imported.stdout)["accepted"] == 3, imported.stderr

    unified = herald(["unify", "--db", "shop"], home)
    assert unified.returncode == 0, unified.stderr
    shop = json.loads(unified.stdout)["databases"]["shop"]
    assert (shop["records"], shop["profiles"]) == (3, 2)  # rows 1 and 2 share a phone

    shown = herald(["profile", "show", "+79161234567"], home)
    assert shown.returncode == 0, shown.stderr
    profile = json.loads(shown.stdout)
    assert sorted(source["record_key"] for source in profile["sources"]) == ["1", "2"]
    assert profile["fields"]["email"] == "ivan.petrov@mail.ru"
    # The golden record keeps the latest non-empty value: row 2 came later and says silver.
    assert profile["fields"]["level"] == "silver"

    exported = herald(
        ["export", "--db", "shop", "--format", "xlsx", "--out", str(tmp_path / "shop.xlsx")], home
    )
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["rows"] == 2
    assert (tmp_path / "shop.xlsx").stat().st_size > 0

    missing = herald(["profile", "show", "nobody@example.com"], home)
    assert missing.returncode == 1
    assert missing.stderr.startswith("herald: no profile has") and "Traceback" not in missing.stderr


def test_copy_profiles_into_another_database_with_a_mapping(tmp_path: Path) -> None:
    home = tmp_path / "home"
    herald(["db", "apply", "--schema", "docs/schemas/shop.yml"], home)
    b2b = tmp_path / "b2b.yml"
    b2b.write_text(
        "database: b2b\nfields:\n"
        "  - {name: email, type: string, identifier: email}\n"
        "  - {name: first_name, type: string, match: given_name}\n"
        "  - {name: level, type: enum, values: [gold, silver]}\n"
    )
    herald(["db", "apply", "--schema", str(b2b)], home)
    path = tmp_path / "clients.csv"
    path.write_text(CLIENTS, encoding="utf-8")
    herald(["import", str(path), "--db", "shop", "--key", "id"], home)
    herald(["unify", "--db", "shop"], home)

    copied = herald(
        [
            "db",
            "copy",
            "shop",
            "b2b",
            "--map",
            "email=email",
            "--map",
            "given_name=first_name",
            "--map",
            "level=level",
        ],
        home,
    )
    assert copied.returncode == 0, copied.stderr
    summary = json.loads(copied.stdout)
    # Two profiles: Ivan (silver) fits, Anna's level bronze is not a b2b level: rejected.
    assert (summary["received"], summary["accepted"], summary["rejected"]) == (2, 1, 1)
    assert "level" in next(iter(summary["rejected_by_reason"]))
    herald(["unify", "--db", "b2b"], home)
    shown = json.loads(
        herald(["profile", "show", "ivan.petrov@mail.ru", "--db", "b2b"], home).stdout
    )
    assert shown["fields"] == {
        "email": "ivan.petrov@mail.ru",
        "first_name": "Ivan",
        "level": "silver",
    }
    assert shown["sources"][0]["source"] == "copy from shop"
