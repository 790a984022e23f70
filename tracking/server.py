"""`herald serve tracking` and `herald serve loader`: the tracking service's processes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from herald.settings import load_settings
from tracking.metrics import reset

if TYPE_CHECKING:
    from tracking.loader import LoaderStats


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
    until_idle: float | None = None,
    batch_events: int = 50_000,
    batch_seconds: float = 5.0,
    processes: int = 1,
) -> None:
    """The loader, until Ctrl-C (or, with `until_idle`, until the queue has been empty that
    many seconds); prints its counts as JSON when it stops. `processes` consumers share the
    queue (each its own connection, batches and files), for more than one core."""
    import multiprocessing

    from tracking.loader import LoaderStats

    options = (until_idle, batch_events, batch_seconds)
    if processes <= 1:
        print(_run_loader(options).summary(), flush=True)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        try:
            results = pool.map(_run_loader, [options] * processes)
        except KeyboardInterrupt:
            pool.terminate()
            return
    total = LoaderStats()
    for stats in results:
        for name in ("bundles", "received", "accepted", "rejected", "batches", "files",
                     "profile_records"):  # fmt: skip
            setattr(total, name, getattr(total, name) + getattr(stats, name))
        total.seconds = max(total.seconds, stats.seconds)
    print(total.summary(), flush=True)


def _run_loader(options: tuple[float | None, int, float]) -> LoaderStats:
    from tracking.loader import Loader

    until_idle, batch_events, batch_seconds = options
    loader = Loader(load_settings(), batch_events=batch_events, batch_seconds=batch_seconds)
    try:
        return loader.run(until_idle=until_idle)
    except KeyboardInterrupt:
        return loader.stats
