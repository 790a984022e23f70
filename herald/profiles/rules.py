"""What the operational store tells a profile build (`herald.profiles.build.BuildRules`).

rules = load_rules(store)      # the imports' match fields, the merges undone
build_profiles(warehouse, schemas, rules=rules)
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from herald.profiles.build import BuildRules
from herald.profiles.merges import unmerges
from herald.store.engine import session_scope
from herald.store.models import ProfileImport


def load_rules(store: Engine) -> BuildRules:
    """The build rules kept in the store: every finished import that chose match fields, and
    every merge undone."""
    match_fields: dict[str, tuple[str, ...]] = {}
    with session_scope(store) as session:
        found = session.execute(
            select(ProfileImport.import_id, ProfileImport.options).where(
                ProfileImport.status == "succeeded"
            )
        )
        for import_id, options in found:
            fields = (options or {}).get("match_fields") or []
            if fields:
                match_fields[import_id] = tuple(str(name) for name in fields)
    return BuildRules(match_fields=match_fields, unmerges=unmerges(store))
