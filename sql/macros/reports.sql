{# What on-demand reports (herald.reports: funnels, cohorts) need per engine. #}

{# A UTC time as integer microseconds since the epoch (never NULL on ClickHouse: the caller
   keeps only rows with a time). #}
{% macro duckdb__rep_epoch_us(expr) -%}
epoch_us({{ expr }})
{%- endmacro %}

{% macro clickhouse__rep_epoch_us(expr) -%}
toUnixTimestamp64Micro(assumeNotNull({{ expr }}))
{%- endmacro %}

{% macro duckdb__rep_int(expr) -%}
cast({{ expr }} as bigint)
{%- endmacro %}

{% macro clickhouse__rep_int(expr) -%}
toInt64({{ expr }})
{%- endmacro %}

{# A list with more items at its end (`items`: comma-separated SQL). #}
{% macro duckdb__rep_append(list, items) -%}
list_concat({{ list }}, [{{ items }}])
{%- endmacro %}

{% macro clickhouse__rep_append(list, items) -%}
arrayConcat({{ list }}, [{{ items }}])
{%- endmacro %}

{# How many rows of a group pass `cond`. #}
{% macro duckdb__rep_count_if(cond) -%}
count(*) filter (where {{ cond }})
{%- endmacro %}

{% macro clickhouse__rep_count_if(cond) -%}
countIf({{ cond }})
{%- endmacro %}

{# The lower median of the rows passing `cond`: of n sorted values the ((n + 1) div 2)-th,
   the same on both engines (NULL or 0 when no row passes; callers check the count). #}
{% macro duckdb__rep_lower_median(expr, cond) -%}
quantile_disc({{ expr }}, 0.5) filter (where {{ cond }})
{%- endmacro %}

{% macro clickhouse__rep_lower_median(expr, cond) -%}
quantileExactLowIf(0.5)({{ expr }}, {{ cond }})
{%- endmacro %}

{# The first day (UTC) of the day, week (starting on Monday) or month of a time. #}
{% macro duckdb__rep_period_start(expr, period) -%}
{%- if period == 'day' -%}
cast({{ expr }} as date)
{%- else -%}
cast(date_trunc('{{ period }}', {{ expr }}) as date)
{%- endif -%}
{%- endmacro %}

{% macro clickhouse__rep_period_start(expr, period) -%}
{%- if period == 'day' -%}
toDate({{ expr }})
{%- elif period == 'week' -%}
toMonday({{ expr }})
{%- else -%}
toStartOfMonth({{ expr }})
{%- endif -%}
{%- endmacro %}

{# Whole periods from one period start to a later one. #}
{% macro duckdb__rep_period_index(period, first, later) -%}
{%- if period == 'month' -%}
date_diff('month', {{ first }}, {{ later }})
{%- elif period == 'week' -%}
(date_diff('day', {{ first }}, {{ later }}) // 7)
{%- else -%}
date_diff('day', {{ first }}, {{ later }})
{%- endif -%}
{%- endmacro %}

{% macro clickhouse__rep_period_index(period, first, later) -%}
{%- if period == 'month' -%}
dateDiff('month', {{ first }}, {{ later }})
{%- elif period == 'week' -%}
intDiv(dateDiff('day', {{ first }}, {{ later }}), 7)
{%- else -%}
dateDiff('day', {{ first }}, {{ later }})
{%- endif -%}
{%- endmacro %}

{# The sorted values of the rows of a group passing `cond` (values never NULL). #}
{% macro duckdb__rep_sorted_list_if(expr, cond) -%}
list_sort(coalesce(list({{ expr }}) filter (where {{ cond }}), []))
{%- endmacro %}

{% macro clickhouse__rep_sorted_list_if(expr, cond) -%}
arraySort(groupArrayIf({{ expr }}, {{ cond }}))
{%- endmacro %}

{# The sorted values of a group (values never NULL). #}
{% macro duckdb__rep_sorted_list(expr) -%}
list_sort(list({{ expr }}))
{%- endmacro %}

{% macro clickhouse__rep_sorted_list(expr) -%}
arraySort(groupArray({{ expr }}))
{%- endmacro %}

{# The first element of a list greater than `bound`; NULL when there is none. #}
{% macro duckdb__rep_first_after(list, bound) -%}
list_filter({{ list }}, lambda x: x > {{ bound }})[1]
{%- endmacro %}

{% macro clickhouse__rep_first_after(list, bound) -%}
arrayFirstOrNull(x -> x > {{ bound }}, {{ list }})
{%- endmacro %}
