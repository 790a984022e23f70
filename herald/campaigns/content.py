"""Templates, fragments and data connections in the operational store, versioned.

    read_template_file(Path("news.yml"))            # (name, document): parts, data, locale
    save_content(store, "template", "news", document, mode="create")   # version 1
    save_content(store, "fragment", "footer", {"source": "<p>Shop Ltd</p>"})
    template = get_content(store, "template", "news")       # the latest version
    fragments = resolve_fragments(store, template.document["parts"])   # frozen at launch
    add_connection(store, "shop", "postgresql://reader@db/shop")

A template document: `{"channel": "email", "parts": {...}, "data": {...}, "locale": "ru"}` —
the parts as herald/templates.py knows them, the external data sources
(herald/content/external.py) and the default locale of its filters. Every save is a new
version; a campaign launch freezes the versions it sends (template and fragments into the
run's spec), so an edit never changes a message already on its way.

A fragment is included by name (`{% include "footer" %}`, its latest version) or by version
(`{% include "footer@2" %}`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from herald.errors import HeraldError
from herald.store import session_scope
from herald.store.models import ContentItem, ContentVersion, DataConnection, utc_now

ContentKind = Literal["template", "fragment"]
TEMPLATE_KEYS = ("name", "channel", "locale", "data", "title")
CHANNELS = ("email", "telegram", "webhook", "sms", "push")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_PINNED = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_-]{0,62})@(?P<version>\d+)$")


class ContentError(HeraldError):
    """A template or fragment that cannot be read, saved or found."""


@dataclass(frozen=True)
class ContentInfo:
    kind: str
    name: str
    version: int
    channel: str | None
    document: dict[str, Any]
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "channel": self.channel,
            "document": self.document,
            "updated_at": self.updated_at.isoformat(),
        }


def read_parts_file(path: Path, what: str = "template file") -> dict[str, Any]:
    """A YAML mapping of message parts (and options), with `html_file` and `text_file` read
    from beside it into `html` and `text`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ContentError(f"cannot read the {what} {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ContentError(f"{path}: a {what} is a mapping of parts (subject, html, ...)")
    for part in ("html", "text"):
        key = f"{part}_file"
        if key in raw:
            try:
                raw[part] = (path.parent / str(raw.pop(key))).read_text(encoding="utf-8")
            except OSError as exc:
                raise ContentError(f"{path}: cannot read {key}: {exc}") from None
    return raw


def read_template_file(path: Path) -> tuple[str | None, dict[str, Any]]:
    """A template file (YAML: name, channel, locale, data and the parts; `html_file` and
    `text_file` read beside it) as its name and document."""
    raw = read_parts_file(path)
    name = raw.get("name")
    return (str(name) if name is not None else None), template_document(raw)


def template_document(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A template document from a flat mapping (the file's shape) or a document already."""
    if "parts" in raw and isinstance(raw["parts"], dict):
        parts = dict(raw["parts"])
    else:
        parts = {key: value for key, value in raw.items() if key not in TEMPLATE_KEYS}
    channel = str(raw.get("channel") or parts.pop("channel", None) or "email")
    if channel not in CHANNELS:
        raise ContentError(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    parts.pop("channel", None)
    document: dict[str, Any] = {"channel": channel, "parts": parts}
    if raw.get("data"):
        if not isinstance(raw["data"], dict):
            raise ContentError("`data` maps a name to a source (sql: ... or http: ...)")
        document["data"] = dict(raw["data"])
    if raw.get("locale"):
        document["locale"] = str(raw["locale"])
    if raw.get("title"):
        document["title"] = str(raw["title"])
    return document


def check_name(name: str) -> str:
    if not _SLUG.match(name or ""):
        raise ContentError(f"{name!r} is not a name: lowercase letters, digits, - and _")
    return name


def save_content(
    store: Engine,
    kind: ContentKind,
    name: str,
    document: dict[str, Any],
    *,
    mode: Literal["create", "update", "upsert"] = "upsert",
    user: str | None = None,
) -> ContentInfo:
    """Save a new version (the first with `create`, which refuses an existing name; a later
    one with `update`, which refuses a missing name)."""
    check_name(name)
    try:
        return _save(store, kind, name, document, mode, user)
    except IntegrityError:  # saved by someone else at the same moment
        raise ContentError(
            f"the {kind} {name!r} was saved by someone else at the same time; save it again"
        ) from None


def _save(
    store: Engine,
    kind: ContentKind,
    name: str,
    document: dict[str, Any],
    mode: str,
    user: str | None,
) -> ContentInfo:
    with session_scope(store) as session:
        item = session.execute(
            select(ContentItem).where(ContentItem.kind == kind, ContentItem.name == name)
        ).scalar_one_or_none()
        if item is None and mode == "update":
            raise ContentError(f"no {kind} {name!r}; create it first")
        if item is not None and mode == "create":
            raise ContentError(f"the {kind} {name!r} exists (version {item.version}); update it")
        now = utc_now()
        if item is None:
            item = ContentItem(kind=kind, name=name, version=1, created_at=now, updated_at=now)
            session.add(item)
        else:
            item.version += 1
            item.updated_at = now
        item.channel = document.get("channel") if kind == "template" else None
        session.flush()
        session.add(
            ContentVersion(
                item_id=item.id, version=item.version, document=document, created_by=user
            )
        )
        return ContentInfo(kind, name, item.version, item.channel, document, now)


def get_content(
    store: Engine, kind: ContentKind, name: str, version: int | None = None
) -> ContentInfo:
    with session_scope(store) as session:
        item = session.execute(
            select(ContentItem).where(ContentItem.kind == kind, ContentItem.name == name)
        ).scalar_one_or_none()
        if item is None:
            raise ContentError(f"no {kind} {name!r}")
        wanted = version or item.version
        row = session.execute(
            select(ContentVersion).where(
                ContentVersion.item_id == item.id, ContentVersion.version == wanted
            )
        ).scalar_one_or_none()
        if row is None:
            raise ContentError(
                f"the {kind} {name!r} has no version {wanted} (latest {item.version})"
            )
        return ContentInfo(kind, name, wanted, item.channel, dict(row.document), row.created_at)


def list_content(store: Engine, kind: ContentKind) -> list[dict[str, Any]]:
    with session_scope(store) as session:
        items = session.execute(
            select(ContentItem).where(ContentItem.kind == kind).order_by(ContentItem.name)
        ).scalars()
        return [
            {
                "name": item.name,
                "version": item.version,
                "channel": item.channel,
                "updated_at": item.updated_at.isoformat(),
            }
            for item in items
        ]


def fragment_sources(store: Engine, names: set[str]) -> dict[str, str]:
    """The sources of fragments by the names templates use (`footer` or `footer@2`);
    ContentError for a missing one."""
    sources: dict[str, str] = {}
    for reference in sorted(names):
        pinned = _PINNED.match(reference)
        if pinned:
            info = get_content(store, "fragment", pinned["name"], int(pinned["version"]))
        else:
            info = get_content(store, "fragment", reference)
        sources[reference] = str(info.document.get("source") or "")
    return sources


def resolve_fragments(store: Engine, parts: Mapping[str, Any]) -> dict[str, str]:
    """Every fragment the parts include, and those they include, by the names used."""
    from herald.templates import referenced_fragments

    sources: dict[str, str] = {}
    wanted = set(referenced_fragments(parts))
    while wanted - set(sources):
        sources.update(fragment_sources(store, wanted - set(sources)))
        wanted |= referenced_fragments({f"fragment:{n}": s for n, s in sources.items()})
    return sources


def add_connection(store: Engine, name: str, url: str) -> None:
    from herald.imports.sql_source import parse_source_url

    check_name(name)
    parse_source_url(url)  # BadSourceUrl says what is wrong, the password masked
    with session_scope(store) as session:
        existing = session.get(DataConnection, name)
        if existing is None:
            session.add(DataConnection(name=name, url=url))
        else:
            existing.url = url


def remove_connection(store: Engine, name: str) -> bool:
    with session_scope(store) as session:
        existing = session.get(DataConnection, name)
        if existing is not None:
            session.delete(existing)
        return existing is not None


def connection_url(store: Engine, name: str) -> str:
    with session_scope(store) as session:
        existing = session.get(DataConnection, name)
        if existing is None:
            raise ContentError(
                f"no data connection {name!r}; add it with `herald template connection add`"
            )
        return existing.url


def list_connections(store: Engine) -> list[dict[str, str]]:
    from herald.imports.sql_source import masked_url

    with session_scope(store) as session:
        rows = session.execute(select(DataConnection).order_by(DataConnection.name)).scalars()
        return [{"name": row.name, "url": masked_url(row.url)} for row in rows]
