{# Casting text to typed values; a value that does not parse becomes NULL. #}

{% macro duckdb__safe_int(expr) -%}
try_cast(trim({{ expr }}) as bigint)
{%- endmacro %}

{% macro clickhouse__safe_int(expr) -%}
toInt64OrNull(trim({{ expr }}))
{%- endmacro %}

{% macro duckdb__safe_float(expr) -%}
try_cast(trim({{ expr }}) as double)
{%- endmacro %}

{% macro clickhouse__safe_float(expr) -%}
toFloat64OrNull(trim({{ expr }}))
{%- endmacro %}

{# A date written as DD.MM.YYYY or YYYY-MM-DD. #}
{% macro duckdb__parse_date(expr) -%}
cast(coalesce(
    try_strptime(trim({{ expr }}), '%d.%m.%Y'),
    try_strptime(trim({{ expr }}), '%Y-%m-%d')
) as date)
{%- endmacro %}

{% macro clickhouse__parse_date(expr) -%}
toDate32(coalesce(
    parseDateTime64OrNull(trim({{ expr }}), '%d.%m.%Y', 'UTC'),
    parseDateTime64OrNull(trim({{ expr }}), '%Y-%m-%d', 'UTC')
))
{%- endmacro %}

{# A timestamp written as YYYY-MM-DD HH:MM:SS (UTC), to millisecond precision. #}
{% macro duckdb__parse_timestamp(expr) -%}
cast(try_strptime(trim({{ expr }}), '%Y-%m-%d %H:%M:%S') as timestamp(3))
{%- endmacro %}

{% macro clickhouse__parse_timestamp(expr) -%}
toDateTime64(parseDateTime64OrNull(trim({{ expr }}), '%Y-%m-%d %H:%i:%s', 'UTC'), 3, 'UTC')
{%- endmacro %}

{% macro duckdb__to_date(expr) -%}
cast({{ expr }} as date)
{%- endmacro %}

{% macro clickhouse__to_date(expr) -%}
toDate32({{ expr }})
{%- endmacro %}

{% macro duckdb__epoch_seconds(expr) -%}
epoch({{ expr }})
{%- endmacro %}

{% macro clickhouse__epoch_seconds(expr) -%}
toUnixTimestamp64Milli({{ expr }}) / 1000
{%- endmacro %}

{% macro duckdb__hours_before(expr, hours) -%}
({{ expr }} - interval '{{ hours }} hours')
{%- endmacro %}

{% macro clickhouse__hours_before(expr, hours) -%}
({{ expr }} - toIntervalHour({{ hours }}))
{%- endmacro %}

{# A column as text whatever type its files gave it (an all-empty column may arrive as a number). #}
{% macro duckdb__as_text(expr) -%}
cast({{ expr }} as varchar)
{%- endmacro %}

{% macro clickhouse__as_text(expr) -%}
cast({{ expr }} as Nullable(String))
{%- endmacro %}
