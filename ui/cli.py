"""`herald serve-api`: run the HTTP API (ui/api.py) with uvicorn.

Mounted in herald/cli.py as `app.command(name="serve-api")(serve_api_command)`.
"""

from __future__ import annotations

import typer


def serve_api_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8080, min=1, max=65535, help="Port to listen on."),
) -> None:
    """Serve the HTTP API (create or update profiles). HERALD_API_TOKEN turns on bearer auth."""
    import uvicorn

    from ui.api import create_app

    app = create_app()
    typer.echo(f"Herald API: http://{host}:{port}  (docs at /docs; Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="info")
