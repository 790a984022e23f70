{# What the segment compiler (herald.segments.compiler) needs per engine. #}

{% macro duckdb__seg_date(text) -%}
cast('{{ text }}' as date)
{%- endmacro %}

{% macro clickhouse__seg_date(text) -%}
toDate32('{{ text }}')
{%- endmacro %}

{# A UTC time to microseconds, comparable with timestamp columns of either precision. #}
{% macro duckdb__seg_timestamp(text) -%}
cast('{{ text }}' as timestamp)
{%- endmacro %}

{% macro clickhouse__seg_timestamp(text) -%}
toDateTime64('{{ text }}', 6, 'UTC')
{%- endmacro %}

{# month * 100 + day of a date or a time: 1126 for 26 November. #}
{% macro duckdb__seg_month_day(expr) -%}
(month({{ expr }}) * 100 + day({{ expr }}))
{%- endmacro %}

{% macro clickhouse__seg_month_day(expr) -%}
(toMonth({{ expr }}) * 100 + toDayOfMonth({{ expr }}))
{%- endmacro %}

{% macro duckdb__seg_month(expr) -%}
month({{ expr }})
{%- endmacro %}

{% macro clickhouse__seg_month(expr) -%}
toMonth({{ expr }})
{%- endmacro %}

{# Case-insensitive text tests (Unicode lower case on both engines). #}
{% macro duckdb__seg_contains(expr, needle) -%}
contains(lower({{ expr }}), lower({{ needle }}))
{%- endmacro %}

{% macro clickhouse__seg_contains(expr, needle) -%}
(positionUTF8(lowerUTF8({{ expr }}), lowerUTF8({{ needle }})) > 0)
{%- endmacro %}

{% macro duckdb__seg_starts_with(expr, prefix) -%}
starts_with(lower({{ expr }}), lower({{ prefix }}))
{%- endmacro %}

{% macro clickhouse__seg_starts_with(expr, prefix) -%}
startsWith(lowerUTF8({{ expr }}), lowerUTF8({{ prefix }}))
{%- endmacro %}

{# Lists (a profile field of type list). #}
{% macro duckdb__seg_list_has(expr, value) -%}
list_contains({{ expr }}, {{ value }})
{%- endmacro %}

{% macro clickhouse__seg_list_has(expr, value) -%}
has({{ expr }}, {{ value }})
{%- endmacro %}

{% macro duckdb__seg_list_has_any(expr, values) -%}
list_has_any({{ expr }}, [{{ values }}])
{%- endmacro %}

{% macro clickhouse__seg_list_has_any(expr, values) -%}
hasAny({{ expr }}, [{{ values }}])
{%- endmacro %}

{% macro duckdb__seg_list_size(expr) -%}
coalesce(len({{ expr }}), 0)
{%- endmacro %}

{% macro clickhouse__seg_list_size(expr) -%}
length({{ expr }})
{%- endmacro %}

{# A JSON property as text: a string unquoted, a number or boolean as written; NULL if absent. #}
{% macro duckdb__seg_json_text(expr, key) -%}
nullif(json_extract_string({{ expr }}, '$.{{ key }}'), '')
{%- endmacro %}

{% macro clickhouse__seg_json_text(expr, key) -%}
nullIf(multiIf(JSONType({{ expr }}, '{{ key }}') = 'String', JSONExtractString({{ expr }}, '{{ key }}'), JSONType({{ expr }}, '{{ key }}') = 'Null', '', JSONExtractRaw({{ expr }}, '{{ key }}')), '')
{%- endmacro %}

{# A stable bucket 0..99 of a text: the first four bytes of its MD5 as an unsigned integer. #}
{% macro duckdb__seg_bucket(expr) -%}
(cast(('0x' || substr(md5({{ expr }}), 1, 8)) as ubigint) % 100)
{%- endmacro %}

{% macro clickhouse__seg_bucket(expr) -%}
(reinterpretAsUInt32(reverse(substring(MD5({{ expr }}), 1, 4))) % 100)
{%- endmacro %}

{% macro duckdb__seg_concat(first, second) -%}
({{ first }} || {{ second }})
{%- endmacro %}

{% macro clickhouse__seg_concat(first, second) -%}
concat({{ first }}, {{ second }})
{%- endmacro %}
