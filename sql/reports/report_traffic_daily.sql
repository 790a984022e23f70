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

ranked as (
    select
        session_id,
        event_date,
        occurred_at,
        device_id,
        coalesce(anonymous_id, user_id) as visitor_id,
        traffic_source,
        utm_source,
        utm_medium,
        utm_campaign,
        path,
        row_number() over (partition by session_id order by occurred_at, event_id) as position
    from events
),

totals as (
    select
        session_id,
        count(case when event_type = 'page' then 1 end) as page_views,
        count(case when event_type = 'track' then 1 end) as tracked,
        count(case when event_name = 'Order Completed' then 1 end) as orders
    from events
    group by session_id
),

sessions as (
    select
        ranked.session_id as session_id,
        ranked.event_date as event_date,
        ranked.visitor_id as visitor_id,
        ranked.traffic_source as traffic_source,
        coalesce(ranked.utm_source, '') as utm_source,
        coalesce(ranked.utm_medium, '') as utm_medium,
        coalesce(ranked.utm_campaign, '') as utm_campaign,
        coalesce(ranked.path, '') as landing_page,
        coalesce(devices.platform, 'unknown') as device,
        totals.page_views as page_views,
        totals.page_views = 1 and totals.tracked = 0 as is_bounce,
        totals.orders > 0 as has_order
    from ranked
    inner join totals on totals.session_id = ranked.session_id
    left join devices on devices.device_id = ranked.device_id
    where ranked.position = 1
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
    from sessions
    group by event_date, traffic_source, utm_source, utm_medium, utm_campaign, landing_page, device
)

select * from final
