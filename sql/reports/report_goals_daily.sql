{#
  Goal completions per day, goal, and the traffic source and campaign of the visit (the
  session's first event; a goal without a session keeps its own).
#}
with events as (
    select * from {{ ref('events') }}
),

goals as (
    select * from events
    where event_name = 'Goal Completed'
),

visits as (
    select
        session_id,
        {{ first_row_by(['traffic_source', 'utm_source', 'utm_campaign'], '(occurred_at, event_id)') }}
            as first_event
    from events
    where session_id in (select session_id from goals where session_id is not null)
    group by session_id
),

attributed as (
    select
        goals.event_date as event_date,
        coalesce(goals.goal, '') as goal,
        case
            when visits.session_id is null then goals.traffic_source
            else {{ row_field('visits.first_event', 1) }}
        end as traffic_source,
        coalesce(case
            when visits.session_id is null then goals.utm_source
            else {{ row_field('visits.first_event', 2) }}
        end, '') as utm_source,
        coalesce(case
            when visits.session_id is null then goals.utm_campaign
            else {{ row_field('visits.first_event', 3) }}
        end, '') as utm_campaign,
        coalesce(goals.anonymous_id, goals.user_id) as visitor_id
    from goals
    left join visits on visits.session_id = goals.session_id
),

final as (
    select
        event_date as report_date,
        goal,
        traffic_source,
        utm_source,
        utm_campaign,
        count(*) as completions,
        count(distinct visitor_id) as visitors
    from attributed
    group by event_date, goal, traffic_source, utm_source, utm_campaign
)

select * from final
