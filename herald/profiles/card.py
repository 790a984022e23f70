"""The client card: one profile as a person sees it, read from the warehouse and the store.

    card = read_card(warehouse, store, "ivan@mail.ru", database="shop")

A card is the profile's golden record (`profiles`), its identifiers, source records, aliases
and merges (the public tables `herald/profiles/build.py` writes), the first page of its
activity timeline (`herald/profiles/timeline.py`), and what lives in the operational store:
subscriptions, relations to other profiles, and field edits. An edit is shown at once: the
fields of every edit that no build has taken in yet (its import is not among the profile's
source records) are laid over the golden record and listed in `pending`.

A profile is found by its id, by an old id merged into it (an alias: the card is the live
profile's, with `alias_of`), or by any identifier value, as typed or as an import would have
normalised it (e-mail, phone). The card only reads: edits, subscriptions and relations are
written by `edits.py`, `consent.py` and `relations.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from herald.errors import HeraldError
from herald.profiles.edits import FieldEdit, edit_fields
from herald.profiles.store_ids import database_id
from herald.settings import Settings
from herald.store import ProfileEdit, session_scope
from herald.warehouse.base import Warehouse

PROFILES = "profiles"


class UnknownProfile(HeraldError):
    """No profile has this id or identifier (or there are no profiles yet)."""


class AmbiguousProfile(HeraldError):
    """An identifier shared by profiles of several databases: the caller must choose one."""


def sql_literal(warehouse: Warehouse, text: str) -> str:
    """A text as a string literal of the warehouse's dialect."""
    return warehouse.literal(text)


def identifier_forms(text: str) -> list[str]:
    """The text as typed and as an import would have normalised it (e-mail, phone)."""
    from herald.imports.normalize import normalize_email, normalize_phone

    forms = [text, text.strip()]
    for normalise in (normalize_email, normalize_phone):
        value, error = normalise(text)
        if value is not None and error is None:
            forms.append(str(value))
    return list(dict.fromkeys(forms))


def _rows(warehouse: Warehouse, sql: str) -> list[dict[str, Any]]:
    return warehouse.query_arrow(sql).to_pylist()


@dataclass(frozen=True)
class ProfileRef:
    """A live profile: its id and database, and the merged id it was found by, if any."""

    profile_id: str
    database: str
    alias_of: str | None = None


def resolve_profile(
    warehouse: Warehouse, id_or_identifier: str, database: str | None = None
) -> ProfileRef:
    """The live profile for an id, an alias or an identifier. UnknownProfile if none,
    AmbiguousProfile if several."""
    if not warehouse.exists(PROFILES):
        raise UnknownProfile("no profiles yet: run `herald unify` (or the profiles asset)")

    def literal(text: str) -> str:
        return sql_literal(warehouse, text)

    where_db = f" and database = {literal(database)}" if database else ""
    found = _rows(
        warehouse,
        f"select profile_id, database from {warehouse.qualify(PROFILES)} "
        f"where profile_id = {literal(id_or_identifier)}{where_db}",
    )
    alias_of = None
    if not found and warehouse.exists("profile_aliases"):
        # A merged profile's old id still finds the profile it was merged into.
        found = _rows(
            warehouse,
            f"select profile_id, database from {warehouse.qualify('profile_aliases')} "
            f"where alias_id = {literal(id_or_identifier)}{where_db}",
        )
        alias_of = id_or_identifier if found else None
    if not found and warehouse.exists("profile_identifiers"):
        values = ", ".join(literal(value) for value in identifier_forms(id_or_identifier))
        found = _rows(
            warehouse,
            f"select distinct profile_id, database "
            f"from {warehouse.qualify('profile_identifiers')} "
            f"where value in ({values}){where_db} order by profile_id",
        )
    if not found:
        where = f" in profile database {database!r}" if database else ""
        raise UnknownProfile(f"no profile has the id or identifier {id_or_identifier!r}{where}")
    if len(found) > 1:
        ids = ", ".join(row["profile_id"] for row in found)
        raise AmbiguousProfile(
            f"{id_or_identifier!r} identifies {len(found)} profiles ({ids}); "
            "give the profile database (--db, ?database=) or a profile id"
        )
    return ProfileRef(str(found[0]["profile_id"]), str(found[0]["database"]), alias_of)


def find_profile(
    warehouse: Warehouse, id_or_identifier: str, database: str | None = None
) -> dict[str, Any]:
    """A profile as the warehouse has it: golden record, identifiers, source records, and
    `alias_of` when found by a merged id. UnknownProfile / AmbiguousProfile otherwise."""
    ref = resolve_profile(warehouse, id_or_identifier, database)
    key = sql_literal(warehouse, ref.profile_id)
    row = _rows(
        warehouse,
        "select profile_id, database, created_at, updated_at, fields "
        f"from {warehouse.qualify(PROFILES)} where profile_id = {key}",
    )[0]
    identifiers = []
    if warehouse.exists("profile_identifiers"):
        identifiers = _rows(
            warehouse,
            f"select kind, value from {warehouse.qualify('profile_identifiers')} "
            f"where profile_id = {key} order by kind, value",
        )
    sources = []
    if warehouse.exists("profile_records"):
        sources = _rows(
            warehouse,
            "select source, record_key, import_id, row_number "
            f"from {warehouse.qualify('profile_records')} where profile_id = {key} "
            "order by source, record_key, import_id, row_number",
        )
    profile: dict[str, Any] = {
        "profile_id": row["profile_id"],
        "database": row["database"],
        "created_at": as_utc(row["created_at"]),
        "updated_at": as_utc(row["updated_at"]),
        "fields": json.loads(row["fields"]) if row["fields"] else {},
        "identifiers": identifiers,
        "sources": sources,
    }
    if ref.alias_of is not None:
        profile["alias_of"] = ref.alias_of
    return profile


def profile_history(warehouse: Warehouse, profile_id: str) -> dict[str, list[Any]]:
    """The ids merged into a profile (`aliases`) and the merges it took part in (`merges`,
    oldest first), from the public history tables; empty where they do not exist yet."""
    key = sql_literal(warehouse, profile_id)
    aliases: list[str] = []
    if warehouse.exists("profile_aliases"):
        aliases = [
            str(row["alias_id"])
            for row in _rows(
                warehouse,
                f"select alias_id from {warehouse.qualify('profile_aliases')} "
                f"where profile_id = {key} order by alias_id",
            )
        ]
    merges: list[dict[str, Any]] = []
    if warehouse.exists("profile_merges"):
        ids = ", ".join(sql_literal(warehouse, one) for one in [profile_id, *aliases])
        merges = [
            {**row, "merged_at": as_utc(row["merged_at"])}
            for row in _rows(
                warehouse,
                "select kept_id, merged_id, merged_at, build_id "
                f"from {warehouse.qualify('profile_merges')} "
                f"where kept_id in ({ids}) or merged_id in ({ids}) "
                "order by merged_at, merged_id",
            )
        ]
    return {"aliases": aliases, "merges": merges}


def pending_edits(
    store: Engine, database: str, profile_ids: list[str], built_imports: set[str]
) -> list[ProfileEdit]:
    """The edits of these profile ids that no build has taken in yet, oldest first."""
    with session_scope(store) as session:
        db_id = database_id(session, database)
        edits = (
            session.execute(
                select(ProfileEdit)
                .where(
                    ProfileEdit.database_id == db_id,
                    ProfileEdit.profile_id.in_(profile_ids),
                )
                .order_by(ProfileEdit.edited_at, ProfileEdit.id)
            )
            .scalars()
            .all()
        )
        session.expunge_all()
    return [edit for edit in edits if edit.import_id not in built_imports]


def read_card(
    warehouse: Warehouse,
    store: Engine,
    id_or_identifier: str,
    database: str | None = None,
    *,
    timeline_limit: int = 20,
) -> dict[str, Any]:
    """The client card of a profile (see the module docstring). UnknownProfile if there is
    no such profile, AmbiguousProfile if an identifier names several."""
    from herald.profiles.consent import list_subscriptions
    from herald.profiles.relations import list_relations
    from herald.profiles.timeline import read_timeline

    card = find_profile(warehouse, id_or_identifier, database)
    profile_id, name = card["profile_id"], card["database"]
    card.update(profile_history(warehouse, profile_id))
    ids = [profile_id, *card["aliases"]]
    built = {str(source["import_id"]) for source in card["sources"]}
    pending: dict[str, dict[str, Any]] = {}
    for edit in pending_edits(store, name, ids, built):
        for field_name, value in edit.fields.items():
            card["fields"][field_name] = value
            pending[field_name] = {
                "value": value,
                "edited_at": edit.edited_at,
                "edited_by": edit.edited_by,
                "import_id": edit.import_id,
            }
    card["pending"] = pending
    card["subscriptions"] = list_subscriptions(store, name, ids)
    card["relations"] = list_relations(store, name, ids)
    card["timeline"] = (
        read_timeline(warehouse, card, limit=timeline_limit) if timeline_limit > 0 else None
    )
    return card


def as_utc(value: Any) -> Any:
    """A warehouse timestamp as an aware UTC datetime (engines return naive UTC or aware)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


# ---------------------------------------------------------------------------------------------
# The card's operations: the API and the CLI call these, so both do the same.


def _ids(warehouse: Warehouse, ref: ProfileRef) -> list[str]:
    """The live id and the ids merged into it: store rows may carry any of them."""
    return [ref.profile_id, *profile_history(warehouse, ref.profile_id)["aliases"]]


def card_timeline(
    warehouse: Warehouse,
    id_or_identifier: str,
    database: str | None = None,
    *,
    limit: int = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of a profile's timeline, with the live profile id and database."""
    from herald.profiles.timeline import read_timeline

    profile = find_profile(warehouse, id_or_identifier, database)
    page = read_timeline(warehouse, profile, limit=limit, cursor=cursor)
    return {"profile_id": profile["profile_id"], "database": profile["database"], **page}


def card_edit(
    warehouse: Warehouse,
    store: Engine,
    landing_dir: Path,
    id_or_identifier: str,
    database: str | None,
    values: dict[str, Any],
    *,
    edited_by: str | None = None,
    as_typed: bool = False,
) -> FieldEdit:
    """Edit a profile's fields (see `herald.profiles.edits`); `as_typed`: the values are
    texts as a person typed them (the CLI), not JSON values."""
    ref = resolve_profile(warehouse, id_or_identifier, database)
    return edit_fields(
        store,
        landing_dir,
        database=ref.database,
        profile_id=ref.profile_id,
        values=values,
        edited_by=edited_by,
        as_typed=as_typed,
    )


def card_subscriptions(
    warehouse: Warehouse, store: Engine, id_or_identifier: str, database: str | None = None
) -> dict[str, Any]:
    """A profile's current subscriptions and their history (newest first)."""
    from herald.profiles.consent import list_subscriptions, subscription_history

    ref = resolve_profile(warehouse, id_or_identifier, database)
    ids = _ids(warehouse, ref)
    return {
        "profile_id": ref.profile_id,
        "database": ref.database,
        "subscriptions": list_subscriptions(store, ref.database, ids),
        "history": subscription_history(store, ref.database, ids),
    }


def card_set_subscription(
    warehouse: Warehouse,
    store: Engine,
    id_or_identifier: str,
    database: str | None,
    *,
    channel: str,
    resource: str,
    status: str,
    reason: str | None = None,
    source: str = "api",
) -> dict[str, Any]:
    """Set one subscription of a profile; its subscriptions and history after the change,
    with `changed` (False when the status and reason were already so)."""
    from herald.profiles.consent import check_subscription, set_subscription

    check_subscription(channel, resource, status)  # a bad value is refused before any read
    ref = resolve_profile(warehouse, id_or_identifier, database)
    change = set_subscription(
        store,
        ref.database,
        ref.profile_id,
        channel=channel,
        resource=resource,
        status=status,
        reason=reason,
        source=source,
    )
    return {"changed": change.changed, **card_subscriptions(warehouse, store, ref.profile_id)}


def card_relations(
    warehouse: Warehouse, store: Engine, id_or_identifier: str, database: str | None = None
) -> dict[str, Any]:
    """A profile's relations, both directions."""
    from herald.profiles.relations import list_relations

    ref = resolve_profile(warehouse, id_or_identifier, database)
    return {
        "profile_id": ref.profile_id,
        "database": ref.database,
        "relations": list_relations(store, ref.database, _ids(warehouse, ref)),
    }


def card_relate(
    warehouse: Warehouse,
    store: Engine,
    from_profile: str,
    to_profile: str,
    database: str | None,
    *,
    kind: str,
    created_by: str | None = None,
) -> dict[str, Any]:
    """Link two profiles of one database (each by id, alias or identifier)."""
    from herald.profiles.relations import add_relation, check_kind

    check_kind(kind)
    source = resolve_profile(warehouse, from_profile, database)
    target = resolve_profile(warehouse, to_profile, source.database)
    return add_relation(
        store,
        source.database,
        source.profile_id,
        target.profile_id,
        kind=kind,
        created_by=created_by,
    )


def card_unrelate(
    warehouse: Warehouse,
    store: Engine,
    from_profile: str,
    to_profile: str,
    database: str | None,
    *,
    kind: str,
) -> None:
    """Remove a link between two profiles; UnknownRelation if there is none."""
    from herald.profiles.relations import delete_relation

    source = resolve_profile(warehouse, from_profile, database)
    target = resolve_profile(warehouse, to_profile, source.database)
    delete_relation(store, source.database, source.profile_id, target.profile_id, kind=kind)


def open_card_warehouse(settings: Settings) -> Warehouse:
    """The warehouse opened read-only for a card; UnknownProfile if it does not exist yet."""
    from herald.warehouse import open_warehouse

    url = settings.warehouse_url
    if url.engine == "duckdb" and url.path is not None and not url.path.exists():
        raise UnknownProfile("no profiles yet: run `herald unify` (or the profiles asset)")
    return open_warehouse(settings, read_only=True)
