{#
  Web sessions per day and per the session's source, landing page and device (a session's
  attributes are those of its first event, int_sessions_summarised); a bounce is a session
  with one page view and nothing else tracked (identify calls do not count).
#}
with sessions as (
    select * from {{ ref('int_sessions_summarised') }}
),

classified as (
    select
        session_date,
        visitor_id,
        traffic_source,
        coalesce(utm_source, '') as utm_source,
        coalesce(utm_medium, '') as utm_medium,
        coalesce(utm_campaign, '') as utm_campaign,
        coalesce(landing_page, '') as landing_page,
        device,
        page_views,
        page_views = 1 and tracked = 0 as is_bounce,
        orders > 0 as has_order
    from sessions
),

final as (
    select
        session_date as report_date,
        traffic_source,
        utm_source,
        utm_medium,
        utm_campaign,
        landing_page,
        device,
        count(*) as sessions,
        count(distinct visitor_id) as visitors,
        sum(page_views) as page_views,
        count(case when is_bounce then 1 end) as bounces,
        count(case when has_order then 1 end) as converted_sessions,
        {{ ratio('count(case when is_bounce then 1 end)', 'count(*)') }} as bounce_rate,
        {{ ratio('count(case when has_order then 1 end)', 'count(*)') }} as conversion_rate
    from classified
    group by
        session_date, traffic_source, utm_source, utm_medium, utm_campaign, landing_page, device
)

select * from final
