"""`herald serve ui`: run the web UI (ui/web) with uvicorn; mounted in herald/cli_users.py."""

import typer


def serve_ui_command(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the marketer web UI until Ctrl-C."""
    import uvicorn

    from ui.web.app import create_web_app

    app = create_web_app()
    typer.echo(f"Herald web UI: http://{host}:{port}  (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="info")
