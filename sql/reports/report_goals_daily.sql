{#
  Goal completions per day, goal, and the traffic source and campaign of the visit (the
  session's first event, int_sessions_summarised; a goal without a session keeps its own).
#}
with goals as (
    select * from {{ ref('events') }}
    where event_name = 'Goal Completed'
),

visits as (
    select * from {{ ref('int_sessions_summarised') }}
),

attributed as (
    select
        goals.event_date as event_date,
        coalesce(goals.goal, '') as goal,
        case
            when visits.session_id is null then goals.traffic_source
            else visits.traffic_source
        end as traffic_source,
        coalesce(case
            when visits.session_id is null then goals.utm_source
            else visits.utm_source
        end, '') as utm_source,
        coalesce(case
            when visits.session_id is null then goals.utm_campaign
            else visits.utm_campaign
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
