"""Web versions of sent e-mails: what the tracker's `/v/{token}` serves ("view in browser").

    path = web_version_path(settings.home, run_id, message_id)
    write_web_version(path, html)        # whole file, renamed into place

The sender writes a message's HTML (links tracked, no open pixel) when the run asks for a
web version (`web_version: true`); the tracker reads it. Both find it by the run and the
message id carried in the signed token, so no one can ask for another person's message.
"""

from __future__ import annotations

import os
from pathlib import Path

from herald.i18n import N_

WEB_VERSIONS_DIR = "web-versions"
VIEW_IN_BROWSER = N_("View this email in your browser")


def web_version_path(home: Path, campaign_run: str, message_id: str) -> Path | None:
    """Where a message's web version is kept: HERALD_HOME/web-versions/<run>/<id>.html
    (None for ids that are not plain names)."""
    for part in (campaign_run, message_id):
        if not part or "/" in part or "\\" in part or part.startswith(".") or "\x00" in part:
            return None
    return home / WEB_VERSIONS_DIR / campaign_run / f"{message_id}.html"


def write_web_version(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, path)
