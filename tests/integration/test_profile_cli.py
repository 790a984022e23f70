"""From a file to one profile per customer, through the CLI: import, unify, show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLIENTS = (
    "id,email,phone,given_name,level\n"
    "1,Ivan.Petrov@Mail.RU,8 916 123-45-67,Иван,gold\n"
    "2,,+7 916 123 45 67,Ivan,silver\n"
    "3,anna@example.com,,Anna,bronze\n"
)


def herald(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HERALD_HOME": str(home)}
    env.pop("HERALD_WAREHOUSE", None)
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
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
