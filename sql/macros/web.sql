{#
  traffic_source: how a visit arrived — paid, email, search, social, referral or direct —
  from the referrer's host and utm_medium.
#}
{% macro default__traffic_source(referrer_host, utm_medium) -%}
case
    when lower({{ utm_medium }}) in ('cpc', 'ppc', 'paid', 'cpm', 'display') then 'paid'
    when lower({{ utm_medium }}) in ('email', 'newsletter') then 'email'
    when {{ referrer_host }} like 'google.%' or {{ referrer_host }} like 'yandex.%'
        or {{ referrer_host }} like 'bing.%' or {{ referrer_host }} like 'duckduckgo.%'
        or {{ referrer_host }} like 'search.%' then 'search'
    when lower({{ utm_medium }}) = 'social'
        or {{ referrer_host }} in ('vk.com', 'facebook.com', 't.me', 'instagram.com', 'ok.ru',
            'twitter.com', 'x.com', 'youtube.com', 'm.vk.com', 'l.facebook.com')
        then 'social'
    when {{ referrer_host }} like 'mail.%' or {{ referrer_host }} like 'e.mail.%'
        or {{ referrer_host }} like '%.mail.%' then 'email'
    when {{ referrer_host }} is null then 'direct'
    else 'referral'
end
{%- endmacro %}
