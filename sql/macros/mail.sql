{#
  mailbox_provider: the company behind a recipient's email domain (a rollup of the domains
  each big provider serves), else the domain itself.
#}
{% macro default__mailbox_provider(domain) -%}
case
    when {{ domain }} in ('gmail.com', 'googlemail.com') then 'Google'
    when {{ domain }} in ('mail.ru', 'inbox.ru', 'list.ru', 'bk.ru', 'internet.ru', 'xmail.ru')
        then 'Mail.ru'
    when {{ domain }} in ('yandex.ru', 'ya.ru', 'yandex.com', 'yandex.by', 'yandex.kz',
        'yandex.ua', 'narod.ru') then 'Yandex'
    when {{ domain }} in ('outlook.com', 'hotmail.com', 'live.com', 'msn.com', 'outlook.ru',
        'hotmail.co.uk', 'live.ru') then 'Microsoft'
    when {{ domain }} in ('icloud.com', 'me.com', 'mac.com') then 'Apple'
    when {{ domain }} in ('yahoo.com', 'ymail.com', 'rocketmail.com', 'yahoo.co.uk')
        then 'Yahoo'
    when {{ domain }} in ('rambler.ru', 'lenta.ru', 'autorambler.ru', 'myrambler.ru', 'ro.ru')
        then 'Rambler'
    when {{ domain }} in ('aol.com') then 'AOL'
    when {{ domain }} in ('gmx.com', 'gmx.de', 'gmx.net', 'web.de') then 'GMX / Web.de'
    when {{ domain }} in ('btinternet.com') then 'BT'
    when {{ domain }} in ('proton.me', 'protonmail.com') then 'Proton'
    else {{ domain }}
end
{%- endmacro %}

{#
  status_subject: the subject of an RFC 3463 enhanced status code (the middle number of
  class.subject.detail), named as RFC 3463 section 3 names it.
#}
{% macro default__status_subject(status) -%}
case {{ status_subject_code(status) }}
    when '0' then 'other'
    when '1' then 'addressing'
    when '2' then 'mailbox'
    when '3' then 'mail system'
    when '4' then 'network and routing'
    when '5' then 'mail delivery protocol'
    when '6' then 'message content'
    when '7' then 'security or policy'
end
{%- endmacro %}

{% macro duckdb__status_subject_code(status) -%}
nullif(split_part({{ status }}, '.', 2), '')
{%- endmacro %}

{% macro clickhouse__status_subject_code(status) -%}
nullIf(splitByChar('.', coalesce({{ status }}, ''))[2], '')
{%- endmacro %}
