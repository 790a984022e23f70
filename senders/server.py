"""`herald serve sender`: N worker processes on this host, each restarted if it dies.

    serve_sender(workers=2)          # until SIGTERM or Ctrl-C

Worker `i` has the id `<host>:<i>` for its whole life, so a worker restarted after a crash
settles from its own journal what it held (senders/journal.py). Workers on other hosts run
their own `herald serve sender`; they meet only in RabbitMQ and the operational store.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time

RESTART_PAUSE_SECONDS = 1.0


def worker_command(worker_id: str) -> list[str]:
    return [sys.executable, "-m", "senders.worker", "--id", worker_id]


def serve_sender(workers: int = 1, host_name: str | None = None) -> None:
    host = host_name or socket.gethostname()
    ids = [f"{host}:{slot}" for slot in range(1, max(1, workers) + 1)]
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"sender: {len(ids)} worker(s): {', '.join(ids)}", flush=True)
    try:
        while not stopping:
            for worker_id in ids:
                child = children.get(worker_id)
                if child is None or child.poll() is not None:
                    if child is not None:
                        print(
                            f"sender: worker {worker_id} exited ({child.returncode}); restarting",
                            flush=True,
                        )
                        time.sleep(RESTART_PAUSE_SECONDS)
                    children[worker_id] = subprocess.Popen(worker_command(worker_id))
            time.sleep(0.2)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for child in children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            if child.poll() is None:
                child.kill()
