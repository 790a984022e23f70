"""Counters of a service with several worker processes, exposed in Prometheus text format.

Each process counts in memory and writes its counters to `<directory>/<pid>.json` (whole,
renamed into place) every second; /metrics, answered by whichever process gets the request,
sums every file. `herald serve tracking` empties the directory when it starts, so counters
start at zero with the service, as Prometheus expects of a restart.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PREFIX = "herald_tracking_"
HELP = {
    "received": "Events received (accepted + rejected)",
    "accepted": "Events made durable (published or spooled)",
    "rejected": "Events refused, with their reason kept",
    "rejected_requests": "Requests refused with a 4xx",
    "unauthorized": "Requests with a missing or unknown write key",
    "spooled": "Requests kept in the local spool while RabbitMQ was unreachable",
    "failed": "Requests that could be made durable neither in RabbitMQ nor in the spool",
    "opens": "Open pixels served for a valid token",
    "clicks": "Click redirects",
    "unsubscribes": "Unsubscribes applied",
    "bad_tokens": "Forged, altered or expired tokens",
    "errors": "Unexpected errors (answered without a 5xx)",
}


class Metrics:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.counters: dict[str, int] = dict.fromkeys(HELP, 0)
        self.gauges: dict[str, float] = {}
        self._path = directory / f"{os.getpid()}.json"

    def inc(self, name: str, amount: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + amount

    def set_gauge(self, name: str, value: float) -> None:
        self.gauges[name] = value

    def save(self) -> None:
        temporary = self._path.with_name(f".{self._path.name}.tmp")
        temporary.write_text(json.dumps(self.counters), "utf-8")
        os.replace(temporary, self._path)

    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys(HELP, 0)
        for path in self.directory.glob("*.json"):
            try:
                counts = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            for name, value in counts.items():
                if isinstance(value, int):
                    totals[name] = totals.get(name, 0) + value
        return totals

    def exposition(self, *, queue_depth: int | None, spooled_bundles: int) -> str:
        lines: list[str] = []
        for name, value in self.totals().items():
            lines.append(f"# HELP {PREFIX}{name}_total {HELP.get(name, name)}")
            lines.append(f"# TYPE {PREFIX}{name}_total counter")
            lines.append(f"{PREFIX}{name}_total {value}")
        gauges = {
            "spool_bundles": ("Bundles waiting in the local spool", spooled_bundles),
            "broker_up": (
                "1 while this process is connected to RabbitMQ",
                self.gauges.get("broker_up", 0),
            ),
        }
        if queue_depth is not None:
            gauges["queue_lag_messages"] = (
                "Bundles waiting in the events queue for the loader",
                queue_depth,
            )
        for name, (text, value) in gauges.items():
            lines.append(f"# HELP {PREFIX}{name} {text}")
            lines.append(f"# TYPE {PREFIX}{name} gauge")
            lines.append(f"{PREFIX}{name} {value}")
        return "\n".join(lines) + "\n"


def reset(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.json"):
        path.unlink(missing_ok=True)
