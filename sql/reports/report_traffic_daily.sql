{#
  Web sessions per day and per the session's source, landing page and device. A session's
  attributes are those of its first event; a bounce is a session with one page view and
  nothing else tracked (identify calls do not count).
#}
with events as (
    select * from {{ ref('events') }}
    where session_id is not null
),

devices as (
    select
        device_id,
        min(platform) as platform
    from {{ ref('stg_web__devices') }}
    group by device_id
),

sessions as (
    select
        session_id,
        {{ first_row_by([
            'occurred_at', 'coalesce(anonymous_id, user_id)', 'traffic_source', 'utm_source',
            'utm_medium', 'utm_campaign', 'path', 'device_id',
        ], '(occurred_at, event_id)') }} as first_event,
        count(case when event_type = 'page' then 1 end) as page_views,
        count(case when event_type = 'track' then 1 end) as tracked,
        count(case when event_name = 'Order Completed' then 1 end) as orders
    from events
    group by session_id
),

classified as (
    select
        {{ to_date(row_field('sessions.first_event', 1)) }} as event_date,
        {{ row_field('sessions.first_event', 2) }} as visitor_id,
        {{ row_field('sessions.first_event', 3) }} as traffic_source,
        coalesce({{ row_field('sessions.first_event', 4) }}, '') as utm_source,
        coalesce({{ row_field('sessions.first_event', 5) }}, '') as utm_medium,
        coalesce({{ row_field('sessions.first_event', 6) }}, '') as utm_campaign,
        coalesce({{ row_field('sessions.first_event', 7) }}, '') as landing_page,
        coalesce(devices.platform, 'unknown') as device,
        sessions.page_views as page_views,
        sessions.page_views = 1 and sessions.tracked = 0 as is_bounce,
        sessions.orders > 0 as has_order
    from sessions
    left join devices on devices.device_id = {{ row_field('sessions.first_event', 8) }}
),

final as (
    select
        event_date as report_date,
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
    group by event_date, traffic_source, utm_source, utm_medium, utm_campaign, landing_page, device
)

select * from final
