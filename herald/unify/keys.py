"""Person keys: every record's comparable name, birth date and city keys, in the warehouse.

Names and cities repeat: a million records carry a few thousand distinct spellings. Only the
distinct values go through Python (`herald.unify.names`, `herald.unify.nicknames`), into two
small lookup tables; the records are joined to them in SQL, so no per-record work happens
in Python. A record with neither given nor family name takes them from its full name (first
and last word; a single word is a given name), as `names.split_full_name` does.

`<person_keys>`: record_key, given_key, given_canon, given_canon_alt (the two full forms a
diminutive may stand for; the name itself twice when it is no diminutive), family_key,
birth_date, city_key; '' where a record has no value.
"""

from __future__ import annotations

import pyarrow as pa

from herald.unify.dialect import create_table, sql_for
from herald.unify.names import city_key, skeleton
from herald.unify.nicknames import given_forms
from herald.warehouse.base import Warehouse

NAME_KEY_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("name_key", pa.string()),
        ("canon", pa.string()),
        ("canon_alt", pa.string()),
    ]
)
CITY_KEY_SCHEMA = pa.schema([("name", pa.string()), ("city_key", pa.string())])


def name_keys_table(names: list[str]) -> pa.Table:
    """Skeleton and full forms of each distinct name as written."""
    keys = [skeleton(name) for name in names]
    forms = [given_forms(key) for key in keys]
    return pa.table(
        [names, keys, [form[0] for form in forms], [form[1] for form in forms]],
        schema=NAME_KEY_SCHEMA,
    )


def city_keys_table(cities: list[str]) -> pa.Table:
    return pa.table([cities, [city_key(city) for city in cities]], schema=CITY_KEY_SCHEMA)


def store_person_keys(
    warehouse: Warehouse, attributes: str, person_keys: str, *, prefix: str = "unify"
) -> None:
    """Build `person_keys` from the attribute table (record_key, given_name, family_name,
    full_name, birth_date, city)."""
    sql = sql_for(warehouse.dialect)
    named, names, cities = f"{prefix}_named", f"{prefix}_name_keys", f"{prefix}_city_keys"

    def blank(column: str) -> str:
        return f"coalesce({column}, '') = ''"

    from_full_name = (
        f"{blank('given_name')} and {blank('family_name')} and not {blank('full_name')}"
    )
    create_table(
        warehouse,
        named,
        f"""select record_key,
    case when {from_full_name} then {sql.first_word("full_name")} else given_name end
        as given_name,
    case when {from_full_name} then
        case when {sql.has_two_words("full_name")} then {sql.last_word("full_name")} end
        else family_name end as family_name,
    birth_date, city
from {warehouse.qualify(attributes)}""",
    )
    source = warehouse.qualify(named)
    distinct_names = warehouse.query_arrow(
        f"""select distinct name from (
    select given_name as name from {source}
    union all
    select family_name as name from {source}
) as names
where name is not null and name <> ''"""
    )
    distinct_cities = warehouse.query_arrow(
        f"select distinct city from {source} where city is not null and city <> ''"
    )
    for table, schema, rows in (
        (names, NAME_KEY_SCHEMA, name_keys_table(distinct_names.column(0).to_pylist())),
        (cities, CITY_KEY_SCHEMA, city_keys_table(distinct_cities.column(0).to_pylist())),
    ):
        warehouse.drop(table)
        warehouse.create_table_from_arrow_schema(table, schema)
        warehouse.insert_arrow(table, rows)
    create_table(
        warehouse,
        person_keys,
        f"""select n.record_key as record_key,
    coalesce(g.name_key, '') as given_key,
    coalesce(g.canon, '') as given_canon,
    coalesce(g.canon_alt, '') as given_canon_alt,
    coalesce(f.name_key, '') as family_key,
    coalesce(n.birth_date, '') as birth_date,
    coalesce(c.city_key, '') as city_key
from {source} as n
left join {warehouse.qualify(names)} as g on g.name = n.given_name
left join {warehouse.qualify(names)} as f on f.name = n.family_name
left join {warehouse.qualify(cities)} as c on c.name = n.city""",
    )
    for table in (named, names, cities):
        warehouse.drop(table)
