{#
  One row per web or app session: the attributes of its first event and what happened in it.
  Traffic and goal reports read it, so the events are grouped by session once.
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
        count(*) as events,
        count(case when event_type = 'page' then 1 end) as page_views,
        count(case when event_type = 'track' then 1 end) as tracked,
        count(case when event_name = 'Order Completed' then 1 end) as orders,
        count(case when event_name = 'Goal Completed' then 1 end) as goals
    from events
    group by session_id
),

final as (
    select
        sessions.session_id as session_id,
        {{ row_field('sessions.first_event', 1) }} as started_at,
        {{ to_date(row_field('sessions.first_event', 1)) }} as session_date,
        {{ row_field('sessions.first_event', 2) }} as visitor_id,
        {{ row_field('sessions.first_event', 3) }} as traffic_source,
        {{ row_field('sessions.first_event', 4) }} as utm_source,
        {{ row_field('sessions.first_event', 5) }} as utm_medium,
        {{ row_field('sessions.first_event', 6) }} as utm_campaign,
        {{ row_field('sessions.first_event', 7) }} as landing_page,
        {{ row_field('sessions.first_event', 8) }} as device_id,
        coalesce(devices.platform, 'unknown') as device,
        sessions.events as events,
        sessions.page_views as page_views,
        sessions.tracked as tracked,
        sessions.orders as orders,
        sessions.goals as goals
    from sessions
    left join devices on devices.device_id = {{ row_field('sessions.first_event', 8) }}
)

select * from final
