"""Undoing a wrong merge.

    request = request_unmerge(store, warehouse, "shop", "p_shop:web:w1", by="anna")
    # then a build (herald unify) applies it, and every later build keeps it

A merge is undone by its merged id (the id that became an alias). The request is kept in the
operational store (`profile_unmerges`); each build reads it (`herald.profiles.rules`) and sets
the records that id held just before the merge (`profile_merge_records`) apart from the other
records of the profile, under the merged id again. The merge stays in `profile_merges` (the
history is append-only); the alias is dropped once the id is a profile again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from herald.errors import HeraldError
from herald.profiles.build import PROFILE_MERGE_RECORDS, PROFILE_MERGES, Unmerge
from herald.profiles.card import sql_literal
from herald.profiles.databases import get_database
from herald.store.engine import session_scope
from herald.store.models import ProfileDatabase, ProfileUnmerge
from herald.warehouse.base import Warehouse


class CannotUnmerge(HeraldError):
    """The id names no merge that can be undone."""


@dataclass(frozen=True)
class UnmergeRequest:
    database: str
    kept_id: str
    merged_id: str
    merge_build_id: str
    records: int  # the records set apart
    new: bool  # False: the same merge was already undone

    def as_dict(self) -> dict[str, object]:
        return {
            "database": self.database,
            "kept_id": self.kept_id,
            "merged_id": self.merged_id,
            "merge_build_id": self.merge_build_id,
            "records": self.records,
            "already_requested": not self.new,
        }


def request_unmerge(
    store: Engine,
    warehouse: Warehouse,
    database: str,
    merged_id: str,
    *,
    by: str | None = None,
    reason: str | None = None,
) -> UnmergeRequest:
    """Record that the latest merge of `merged_id` in `database` is to be undone."""
    get_database(store, database)  # UnknownProfileDatabase
    if not warehouse.exists(PROFILE_MERGES):
        raise CannotUnmerge(f"no profiles were ever merged in {database!r}")
    merges = warehouse.query_arrow(
        f"select kept_id, build_id from {warehouse.qualify(PROFILE_MERGES)} "
        f"where database = {sql_literal(warehouse, database)} "
        f"and merged_id = {sql_literal(warehouse, merged_id)} "
        "order by merged_at desc, build_id desc limit 1"
    ).to_pylist()
    if not merges:
        raise CannotUnmerge(
            f"{merged_id!r} was never merged into another profile of {database!r} "
            "(give the id that became an alias: profile_merges.merged_id)"
        )
    kept_id, build_id = str(merges[0]["kept_id"]), str(merges[0]["build_id"])
    records = 0
    if warehouse.exists(PROFILE_MERGE_RECORDS):
        records = int(
            warehouse.scalar(
                f"select count(*) from {warehouse.qualify(PROFILE_MERGE_RECORDS)} "
                f"where database = {sql_literal(warehouse, database)} "
                f"and merged_id = {sql_literal(warehouse, merged_id)} "
                f"and build_id = {sql_literal(warehouse, build_id)}"
            )
            or 0
        )
    if not records:
        raise CannotUnmerge(
            f"the records {merged_id!r} held before its merge were not kept, so the merge "
            "cannot be undone"
        )
    with session_scope(store) as session:
        database_id = session.execute(
            select(ProfileDatabase.id).where(ProfileDatabase.name == database)
        ).scalar_one()
        existing = session.execute(
            select(ProfileUnmerge.id).where(
                ProfileUnmerge.database_id == database_id,
                ProfileUnmerge.merged_id == merged_id,
                ProfileUnmerge.merge_build_id == build_id,
            )
        ).scalar_one_or_none()
        if existing is None:
            session.add(
                ProfileUnmerge(
                    database_id=database_id,
                    kept_id=kept_id,
                    merged_id=merged_id,
                    merge_build_id=build_id,
                    requested_by=by,
                    reason=reason,
                )
            )
    return UnmergeRequest(database, kept_id, merged_id, build_id, records, existing is None)


def unmerges(store: Engine) -> tuple[Unmerge, ...]:
    """Every merge undone, for the builds."""
    with session_scope(store) as session:
        rows = session.execute(
            select(
                ProfileDatabase.name,
                ProfileUnmerge.kept_id,
                ProfileUnmerge.merged_id,
                ProfileUnmerge.merge_build_id,
            )
            .join(ProfileDatabase, ProfileDatabase.id == ProfileUnmerge.database_id)
            .order_by(ProfileUnmerge.id)
        ).all()
    return tuple(Unmerge(name, kept, merged, build) for name, kept, merged, build in rows)
