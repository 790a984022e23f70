"""Running the `herald` command as a user would: a subprocess on a temporary HERALD_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_herald(
    args: list[str],
    home: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`herald ARGS` with HERALD_HOME=home and the default warehouse and store under it
    (any HERALD_WAREHOUSE / HERALD_DATABASE of the test environment is dropped)."""
    environment = {**os.environ, "HERALD_HOME": str(home)}
    for name in ("HERALD_WAREHOUSE", "HERALD_DATABASE"):
        environment.pop(name, None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO,
        timeout=300,
    )
