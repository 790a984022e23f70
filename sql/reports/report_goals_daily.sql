{# Goal completions per day, goal, traffic source and campaign (the visit's UTM tags). #}
with goals as (
    select * from {{ ref('events') }}
    where event_name = 'Goal Completed'
),

final as (
    select
        event_date as report_date,
        coalesce(goal, '') as goal,
        traffic_source,
        coalesce(utm_source, '') as utm_source,
        coalesce(utm_campaign, '') as utm_campaign,
        count(*) as completions,
        count(distinct coalesce(anonymous_id, user_id)) as visitors
    from goals
    group by
        event_date, coalesce(goal, ''), traffic_source, coalesce(utm_source, ''),
        coalesce(utm_campaign, '')
)

select * from final
