"""A file too big to import is refused whole, before a byte is read, with a clear reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.support.cli import run_herald as herald


def test_a_10_gb_file_is_refused_whole_with_the_limit_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert herald(["db", "apply", "--schema", "docs/schemas/shop.yml"], home).returncode == 0
    huge = tmp_path / "huge.csv"
    huge.write_text("id,email\n1,ivan@mail.ru\n", encoding="utf-8")
    os.truncate(huge, 10 * 1024**3)  # sparse: 10 GiB on paper, nothing on disk
    done = herald(["import", str(huge), "--db", "shop", "--key", "id"], home)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr == (
        f"herald: {huge}: 10.0 GiB is above the import limit of 4,096 MiB "
        "(HERALD_MAX_IMPORT_MB); split the file, or load it from its database with "
        "`herald source-sql`\n"
    )
    assert not (home / "landing" / "profile_records").exists()

    # The limit is a setting: the same small file passes or not by it.
    small = tmp_path / "small.csv"
    small.write_text("id,email\n1,ivan@mail.ru\n" + "2,anna@example.com\n" * 60_000)
    refused = herald(
        ["import", str(small), "--db", "shop", "--key", "id", "--no-load"],
        home,
        env={"HERALD_MAX_IMPORT_MB": "1"},
    )
    assert refused.returncode == 1 and "above the import limit of 1 MiB" in refused.stderr
    accepted = herald(["import", str(small), "--db", "shop", "--key", "id", "--no-load"], home)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["received"] == 60_001
