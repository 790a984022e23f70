{# Text clean-up shared by staging models. #}

{% macro default__blank_to_null(expr) -%}
nullif(trim({{ expr }}), '')
{%- endmacro %}

{% macro default__normalize_email(expr) -%}
nullif(lower(trim({{ expr }})), '')
{%- endmacro %}

{% macro duckdb__digits_only(expr) -%}
regexp_replace({{ expr }}, '[^0-9]', '', 'g')
{%- endmacro %}

{% macro clickhouse__digits_only(expr) -%}
replaceRegexpAll({{ expr }}, '[^0-9]', '')
{%- endmacro %}

{#
  A phone as +<digits>. Russian national forms (8XXXXXXXXXX, 10 digits) become +7…;
  full E.164 with regions comes with the profile import (phonenumbers).
#}
{% macro default__normalize_phone(expr) -%}
case
    when {{ expr }} is null or {{ digits_only(expr) }} = '' then null
    when length({{ digits_only(expr) }}) = 11 and {{ digits_only(expr) }} like '8%'
        then concat('+7', substr({{ digits_only(expr) }}, 2))
    when length({{ digits_only(expr) }}) = 10 and {{ digits_only(expr) }} like '9%'
        then concat('+7', {{ digits_only(expr) }})
    else concat('+', {{ digits_only(expr) }})
end
{%- endmacro %}

{% macro duckdb__url_host(expr) -%}
nullif(lower(regexp_extract({{ expr }}, '^[a-zA-Z]+://(www\.)?([^/:?#]+)', 2)), '')
{%- endmacro %}

{% macro clickhouse__url_host(expr) -%}
nullif(lower(domainWithoutWWW({{ expr }})), '')
{%- endmacro %}

{% macro duckdb__email_domain(expr) -%}
nullif(split_part({{ expr }}, '@', 2), '')
{%- endmacro %}

{% macro clickhouse__email_domain(expr) -%}
nullif(splitByChar('@', coalesce({{ expr }}, ''))[2], '')
{%- endmacro %}
