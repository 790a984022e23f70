"""The unification inputs built from Herald's staging views.

`identifiers`: one row per (record, kind) with the normalised value, NULL when the record
has none, so every record is a node of the graph even without identifiers.
`attributes`: the person attributes fuzzy matching compares. Record keys of the three
sources do not collide (`CRM-…`, `WEB-…`, `SHOP-…`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from herald.unify.dialect import create_table, sql_for
from herald.warehouse.base import Warehouse


@dataclass(frozen=True)
class ProfileSource:
    source: str  # the landing source the truth file names
    view: str
    key: str
    given_name: str | None
    family_name: str | None
    full_name: str | None
    birth_date: str | None
    city: str | None = "city"
    email: str = "email"  # normalised: lower case, trimmed
    phone: str = "phone"  # normalised: + and digits


MIN_EMAIL_LOCAL = 6
PHONE_DIGITS = 10

STAGING_SOURCES = (
    ProfileSource(
        "crm_contacts", "stg_crm__contacts", "contact_id", "first_name", "last_name", None,
        "birthday",
    ),
    ProfileSource(
        "web_signups", "stg_web__signups", "signup_id", None, None, "full_name", None,
    ),
    ProfileSource(
        "shop_customers", "stg_shop__customers", "customer_id", "first_name", "last_name", None,
        "birth_date",
    ),
)  # fmt: skip


def records_sql(warehouse: Warehouse, sources: tuple[ProfileSource, ...]) -> str:
    """One row per source record with what unification reads of it, the staging views read
    once (they normalise and deduplicate on every read)."""
    sql = sql_for(warehouse.dialect)

    def column(name: str | None) -> str:
        return warehouse.quote(name) if name else sql.null_text()

    parts = [
        f"select {warehouse.quote(source.key)} as record_key, '{source.source}' as source, "
        f"{warehouse.quote(source.email)} as email, {warehouse.quote(source.phone)} as phone, "
        f"{column(source.given_name)} as given_name, "
        f"{column(source.family_name)} as family_name, "
        f"{column(source.full_name)} as full_name, "
        f"{sql.text(warehouse.quote(source.birth_date)) if source.birth_date else sql.null_text()}"
        f" as birth_date, {column(source.city)} as city "
        f"from {warehouse.qualify(source.view)}"
        for source in sources
    ]
    return "\nunion all\n".join(parts)


def identifiers_sql(warehouse: Warehouse, records: str) -> str:
    """Three kinds: the normalised e-mail; its local part when long enough to be personal
    (it survives a typo'd domain: `ivan.petrov12@mail.ry`); the phone's last ten digits
    (national and international forms of one number meet: `+07946123456`, `+447946123456`)."""
    sql = sql_for(warehouse.dialect)
    base = warehouse.qualify(records)
    local = sql.before("email", "@")
    return f"""select record_key, source, 'email' as kind, email as value from {base}
union all
select record_key, source, 'email_local' as kind,
    case when length({local}) >= {MIN_EMAIL_LOCAL} then {local} end as value
from {base}
union all
select record_key, source, 'phone' as kind, {sql.right("phone", PHONE_DIGITS)} as value
from {base}"""


def attributes_sql(warehouse: Warehouse, records: str) -> str:
    return (
        "select record_key, source, given_name, family_name, full_name, birth_date, city "
        f"from {warehouse.qualify(records)}"
    )


def build_inputs(
    warehouse: Warehouse,
    sources: tuple[ProfileSource, ...] = STAGING_SOURCES,
    *,
    identifiers: str = "unify_identifiers",
    attributes: str = "unify_attributes",
) -> None:
    """Materialise the identifier and attribute tables from the staging views."""
    records = f"{identifiers}__records"
    create_table(warehouse, records, records_sql(warehouse, sources))
    try:
        create_table(warehouse, identifiers, identifiers_sql(warehouse, records))
        create_table(warehouse, attributes, attributes_sql(warehouse, records))
    finally:
        warehouse.drop(records)


def load_profile_sources(
    warehouse: Warehouse,
    landing_dir: Path,
    sources: tuple[ProfileSource, ...] = STAGING_SOURCES,
) -> None:
    """Load the landing files of the profile sources and build their staging views only
    (tests and benchmarks; Dagster builds the whole project)."""
    from herald.landing import load_landing
    from herald.models.build import target_of
    from herald.models.materialize import materialize_model
    from herald.models.project import SqlProject
    from herald.models.render import Renderer

    project = SqlProject.load()
    wanted = {source.source for source in sources}
    for table in project.sources.values():
        if table.name in wanted:
            load_landing(warehouse, landing_dir, table)
    renderer = Renderer(project, target_of(warehouse))
    for source in sources:
        materialize_model(warehouse, renderer, project.models[source.view])
