"""`herald serve tracking` and `herald serve loader`: the tracking service's processes."""

from __future__ import annotations

import sys

from herald.settings import load_settings
from tracking.metrics import reset


def serve_tracking(host: str = "127.0.0.1", port: int = 8090, workers: int = 2) -> None:
    """The tracker: uvicorn (uvloop, httptools) with `workers` processes on one socket."""
    import uvicorn

    settings = load_settings()
    reset(settings.home / "run" / "tracking-metrics")
    print(
        f"Herald tracking: http://{host}:{port}  ({workers} workers; Ctrl-C stops it)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        "tracking.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )


def serve_loader(
    until_idle: float | None = None, batch_events: int = 50_000, batch_seconds: float = 5.0
) -> None:
    """The loader, until Ctrl-C (or, with `until_idle`, until the queue has been empty that
    many seconds); prints its counts as JSON when it stops."""
    from tracking.loader import Loader

    settings = load_settings()
    loader = Loader(settings, batch_events=batch_events, batch_seconds=batch_seconds)
    try:
        stats = loader.run(until_idle=until_idle)
    except KeyboardInterrupt:
        stats = loader.stats
    print(stats.summary(), flush=True)
