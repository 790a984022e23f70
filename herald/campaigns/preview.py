"""Checking and previewing content before it is sent, and checking a campaign before it is
saved.

    problems = validate_document(store, document, database="shop")   # [{part, line, ...}]
    result = preview_template(settings, store, document, database="shop", profile_id="p1")
    check_campaign(store, definition)          # CampaignError: what it names does not exist

A preview renders every part for one profile — its fields read from the profile database's
published view (read-only), or given — with the template's external data fetched live, so a
marketer sees exactly what that person would get; SMS parts show their encoding and number
of segments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from herald.campaigns.content import ContentError, connection_url, get_content, resolve_fragments
from herald.campaigns.definition import CampaignDefinition, CampaignError
from herald.errors import HeraldError
from herald.settings import Settings

BUILT_IN_FIELDS = ("profile_id", "address", "language", "data", "variant", "factors", "now")


def validate_fragment(name: str, source: str) -> list[dict[str, Any]]:
    """A fragment's syntax errors, with their line numbers (what it names is checked with
    the templates that include it)."""
    from jinja2 import Environment, TemplateSyntaxError

    try:
        Environment().parse(source)
    except TemplateSyntaxError as exc:
        return [
            {
                "part": f"fragment {name}",
                "line": exc.lineno,
                "message": exc.message or str(exc),
                "severity": "error",
            }
        ]
    return []


def validate_document(
    store: Engine, document: Mapping[str, Any], *, database: str | None = None
) -> list[dict[str, Any]]:
    """Every problem of a template document: its data sources, its fragments, each part's
    syntax (with line numbers), missing parts, fields the profile database does not have."""
    from herald.content.external import ExternalDataError, parse_data_sources
    from herald.content.validation import validate_template

    problems: list[dict[str, Any]] = []
    parts = dict(document.get("parts") or {})
    data_names: list[str] = []
    try:
        data_names = list(parse_data_sources(document.get("data") or {}))
    except ExternalDataError as exc:
        problems.append({"part": "data", "line": None, "message": str(exc), "severity": "error"})
    fragments: dict[str, str] = {}
    try:
        fragments = resolve_fragments(store, parts)
    except ContentError as exc:  # a missing fragment (validate_template says where)
        problems.append(
            {"part": "fragments", "line": None, "message": str(exc), "severity": "error"}
        )
    except HeraldError:  # a part that does not parse: validate_template gives its line
        pass
    fields = _schema_fields(store, database) if database else None
    for problem in validate_template(
        parts,
        channel=str(document.get("channel") or "email"),
        fields=fields,
        fragments=fragments,
        data_names=data_names,
    ):
        problems.append(problem.public())
    return problems


def _schema_fields(store: Engine, database: str) -> list[str]:
    from herald.profiles.databases import get_database

    return [field.name for field in get_database(store, database).schema.fields]


def profile_fields_for(settings: Settings, database: str, profile_id: str) -> dict[str, Any] | None:
    """A profile's fields from the published view (read-only), or None when it is absent."""
    from herald.profiles.build import view_name
    from herald.warehouse import open_warehouse

    warehouse = open_warehouse(settings, read_only=True)
    try:
        view = view_name(database)
        if not warehouse.exists(view):
            raise CampaignError(f"no profiles of {database} in the warehouse yet")
        table = warehouse.query_arrow(
            f"select * from {warehouse.qualify(view)} "
            f"where profile_id = {warehouse.literal(profile_id)} limit 1"
        )
    finally:
        warehouse.close()
    rows = table.to_pylist()
    if not rows:
        return None
    return {key: _plain(value) for key, value in rows[0].items() if value is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool | list | dict):
        return value
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)


def preview_template(
    settings: Settings,
    store: Engine,
    document: Mapping[str, Any],
    *,
    database: str | None = None,
    profile_id: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every part rendered for one profile (or given fields); `error` says why it could not
    be (the message that would be failed for this person)."""
    from herald.content.external import ExternalData, ExternalDataError, parse_data_sources
    from herald.content.sms import sms_segments
    from herald.templates import MessageTemplate, MessageTemplateError

    context: dict[str, Any] = {}
    if profile_id and database:
        found = profile_fields_for(settings, database, profile_id)
        if found is None:
            return {"error": f"no profile {profile_id!r} in {database}"}
        context.update(found)
    context.update(fields or {})
    context.setdefault("profile_id", profile_id or "preview")
    context.setdefault("address", context.get("email") or context.get("phone") or "")
    parts = dict(document.get("parts") or {})
    channel = str(document.get("channel") or "email")
    result: dict[str, Any] = {"channel": channel, "profile_id": context["profile_id"]}
    try:
        fragments = resolve_fragments(store, parts)
        template = MessageTemplate.from_spec(parts, fragments=fragments)
        sources = parse_data_sources(document.get("data") or {})
        if sources:
            with ExternalData(sources, connection_url=lambda n: connection_url(store, n)) as data:
                context["data"] = data.fetch(context)
        rendered = template.render(context, locale=document.get("locale"))
    except (MessageTemplateError, ExternalDataError, ContentError) as exc:
        result["error"] = str(exc)
        return result
    result["parts"] = rendered
    if channel == "sms" and isinstance(rendered.get("text"), str):
        result["sms"] = sms_segments(rendered["text"]).__dict__
    if context.get("data"):
        result["data"] = context["data"]
    return result


def check_campaign(store: Engine, definition: CampaignDefinition) -> None:
    """What a campaign names exists: its template(s), its segments in its database."""
    from herald.segments.catalog import get_segment

    names = [definition.template] if definition.template else []
    if definition.ab_test:
        names += [v.template for v in definition.ab_test.variants if v.template]
    for name in names:
        assert name is not None
        try:
            info = get_content(store, "template", name)
        except ContentError as exc:
            raise CampaignError(f"campaign {definition.name!r}: {exc}") from None
        if info.channel != definition.channel:
            raise CampaignError(
                f"campaign {definition.name!r} sends {definition.channel}; template "
                f"{name!r} is for {info.channel}"
            )
    wanted: list[tuple[str, str | None]] = []
    if definition.audience:
        wanted += [(s, definition.database) for s in definition.audience.segments]
        wanted += [(s, definition.database) for s in definition.audience.exclude]
    if definition.trigger:
        wanted.append((definition.trigger.segment, definition.database))
    if definition.observers:
        wanted.append((definition.observers.segment, definition.observers.database))
    for segment, database in wanted:
        try:
            info_segment = get_segment(store, segment)
        except HeraldError as exc:
            raise CampaignError(f"campaign {definition.name!r}: {exc}") from None
        if database and info_segment.database != database:
            raise CampaignError(
                f"campaign {definition.name!r}: segment {segment!r} is of database "
                f"{info_segment.database!r}, not {database!r}"
            )
