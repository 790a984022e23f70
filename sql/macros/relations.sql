{#
  deduplicate: one row per key from a relation, keeping the first by `order_by`.
  DuckDB filters with QUALIFY; ClickHouse uses LIMIT 1 BY after ordering.
#}
{% macro duckdb__deduplicate(relation, partition_by, order_by) -%}
select * from {{ relation }}
qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}

{% macro clickhouse__deduplicate(relation, partition_by, order_by) -%}
select * from {{ relation }}
order by {{ partition_by }}, {{ order_by }}
limit 1 by {{ partition_by }}
{%- endmacro %}
