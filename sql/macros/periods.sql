{# Calendar periods for reports. Weeks start on Monday (ISO 8601). #}

{# The first day of the day, week or month `expr` falls in, as a date. #}
{% macro duckdb__period_start(expr, grain) -%}
cast(date_trunc('{{ grain }}', {{ expr }}) as date)
{%- endmacro %}

{% macro clickhouse__period_start(expr, grain) -%}
{%- if grain == 'day' -%} toDate32({{ expr }})
{%- elif grain == 'week' -%} toDate32(toMonday({{ expr }}))
{%- elif grain == 'month' -%} toDate32(toStartOfMonth({{ expr }}))
{%- endif -%}
{%- endmacro %}

{# Months since year 0 (year * 12 + month - 1): differences are calendar months between. #}
{% macro duckdb__month_number(expr) -%}
(year({{ expr }}) * 12 + month({{ expr }}) - 1)
{%- endmacro %}

{% macro clickhouse__month_number(expr) -%}
(toInt64(toYear({{ expr }})) * 12 + toMonth({{ expr }}) - 1)
{%- endmacro %}

{# Whole days from `start` to `end` (dates or timestamps; calendar days between dates). #}
{% macro duckdb__days_between(start, end) -%}
date_diff('day', cast({{ start }} as date), cast({{ end }} as date))
{%- endmacro %}

{% macro clickhouse__days_between(start, end) -%}
toInt64(dateDiff('day', toDate32({{ start }}), toDate32({{ end }})))
{%- endmacro %}

{# `expr` plus `days` days (a timestamp). #}
{% macro duckdb__plus_days(expr, days) -%}
({{ expr }} + to_days(cast({{ days }} as integer)))
{%- endmacro %}

{% macro clickhouse__plus_days(expr, days) -%}
({{ expr }} + toIntervalDay({{ days }}))
{%- endmacro %}

{# A one-column table `n` of the integers 0 .. count - 1. #}
{% macro duckdb__integers(count) -%}
select range as n from range(0, {{ count }})
{%- endmacro %}

{% macro clickhouse__integers(count) -%}
select toInt64(number) as n from numbers({{ count }})
{%- endmacro %}

{# A share as a double, NULL when the denominator is 0 or NULL. #}
{% macro default__ratio(numerator, denominator) -%}
(cast({{ numerator }} as double) / nullif({{ denominator }}, 0))
{%- endmacro %}

{# The value of `value` on the row where `order` is least (a tuple orders by its items). #}
{% macro duckdb__first_by(value, order) -%}
arg_min({{ value }}, {{ order }})
{%- endmacro %}

{% macro clickhouse__first_by(value, order) -%}
argMin({{ value }}, {{ order }})
{%- endmacro %}

{#
  The values of `expressions` (a list of SQL texts) on the row where `order` is least, as one
  row value: read its items with row_field(row, 1), row_field(row, 2)… NULL items stay NULL
  (first_by, by contrast, skips rows whose value is NULL).
#}
{% macro duckdb__first_row_by(expressions, order) -%}
arg_min(struct_pack(
    {%- for expression in expressions %}f{{ loop.index }} := {{ expression }}{% if not loop.last %}, {% endif %}{% endfor -%}
), {{ order }})
{%- endmacro %}

{% macro clickhouse__first_row_by(expressions, order) -%}
argMin(tuple({{ expressions | join(', ') }}), {{ order }})
{%- endmacro %}

{% macro duckdb__row_field(row, index) -%}
{{ row }}.f{{ index }}
{%- endmacro %}

{% macro clickhouse__row_field(row, index) -%}
tupleElement({{ row }}, {{ index }})
{%- endmacro %}

{# Any one value of the group (for columns that have one value per group by construction). #}
{% macro duckdb__any_of(expr) -%}
any_value({{ expr }})
{%- endmacro %}

{% macro clickhouse__any_of(expr) -%}
any({{ expr }})
{%- endmacro %}
