"""Herald's marketer web UI: server-rendered pages (FastAPI + Jinja2, a little vanilla JS).

    from ui.web import create_web_app
    app = create_web_app()          # `herald serve ui` serves it with uvicorn

See docs/web-ui.md: how a page plugs in (ui/web/pages.py), roles, sessions, settings.
"""

from ui.web.app import create_web_app

__all__ = ["create_web_app"]
