"""Start the ClickHouse-HTTP test server (queries run in chdb) as a subprocess for tests.

chdb allows one data path per process, so the server runs in its own process with its own
path, and the test process stays free to open chdb on another path.

    with clickhouse_http_server() as url:   # clickhouse://default:@127.0.0.1:PORT/herald
        warehouse = open_warehouse(WarehouseURL.parse(url, home))
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from tests.support.clickhouse_http_server import READY

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServerDidNotStart(RuntimeError):
    pass


@contextmanager
def clickhouse_http_server(
    path: Path | None = None,
    *,
    user: str = "default",
    password: str | None = None,
    database: str = "herald",
    startup_timeout: float = 30.0,
) -> Iterator[str]:
    """Run the server on a free port and yield its Herald warehouse URL; stop it on exit.

    `path` is the chdb data directory (a temporary one by default). With `password`, the
    server accepts only that user and password.
    """
    with tempfile.TemporaryDirectory(prefix="herald-ch-http-") as scratch:
        data_path = Path(path) if path is not None else Path(scratch) / "data"
        stdout_path, stderr_path = Path(scratch) / "stdout.log", Path(scratch) / "stderr.log"
        command = [
            sys.executable,
            "-m",
            "tests.support.clickhouse_http_server",
            "--port",
            "0",  # the server binds a free port and names it in its ready line
            "--path",
            str(data_path),
            "--user",
            user,
        ]
        if password is not None:
            command += ["--password", password]
        with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
            process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=stdout, stderr=stderr)
        try:
            port = _wait_until_ready(process, stdout_path, stderr_path, startup_timeout)
            credentials = f"{quote(user, safe='')}:{quote(password or '', safe='')}"
            yield f"clickhouse://{credentials}@127.0.0.1:{port}/{database}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_until_ready(
    process: subprocess.Popen[bytes], stdout: Path, stderr: Path, timeout: float
) -> int:
    deadline = time.monotonic() + timeout
    port: int | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(
                f"test ClickHouse server exited with {process.returncode}: {_tail(stderr)}"
            )
        if port is None:
            for line in stdout.read_text(errors="replace").splitlines():
                if line.startswith(READY):
                    port = int(line.split("http://", 1)[1].split()[0].rsplit(":", 1)[1])
        if port is not None and _pings(port):
            return port
        time.sleep(0.05)
    process.kill()
    raise ServerDidNotStart(f"test ClickHouse server not ready in {timeout:.0f}s: {_tail(stderr)}")


def _pings(port: int) -> bool:
    try:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(f"http://127.0.0.1:{port}/ping", timeout=1) as response:
            return bool(response.read() == b"Ok.\n")
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    text = path.read_text(errors="replace").strip() if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"
