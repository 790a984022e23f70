{#
  New, unsubscribed and churned profiles per profile database, period (day, week and month)
  and acquisition source.
  - first seen: the earliest of the profile's creation in Herald, first event and first order;
  - source: the traffic source of its first event, 'offline' without web or app events;
  - unsubscribed: its first current unsubscription (any channel), once per profile;
  - churned: var('churn_days') after its last event or order, when that day has come by the
    latest activity in the data.
#}
with profiles as (
    select * from {{ asset_table('profiles') }}
),

profile_events as (
    select * from {{ asset_table('profile_events') }}
),

profile_orders as (
    select * from {{ asset_table('profile_orders') }}
),

subscription_states as (
    select * from {{ asset_table('profile_subscription_states') }}
),

event_activity as (
    select
        database,
        profile_id,
        min(occurred_at) as first_at,
        max(occurred_at) as last_at,
        {{ first_by('traffic_source', '(occurred_at, event_id)') }} as first_source
    from profile_events
    group by database, profile_id
),

order_activity as (
    select database, profile_id, min(created_at) as first_at, max(created_at) as last_at
    from profile_orders
    group by database, profile_id
),

unsubscriptions as (
    select database, profile_id, min(changed_at) as unsubscribed_at
    from subscription_states
    where status = 'unsubscribed'
    group by database, profile_id
),

people as (
    select
        profiles.database as database,
        least(
            profiles.created_at,
            coalesce(event_activity.first_at, profiles.created_at),
            coalesce(order_activity.first_at, profiles.created_at)
        ) as first_seen_at,
        greatest(
            coalesce(event_activity.last_at, order_activity.last_at),
            coalesce(order_activity.last_at, event_activity.last_at)
        ) as last_active_at,
        coalesce(event_activity.first_source, 'offline') as source,
        unsubscriptions.unsubscribed_at as unsubscribed_at
    from profiles
    left join event_activity
        on event_activity.database = profiles.database
        and event_activity.profile_id = profiles.profile_id
    left join order_activity
        on order_activity.database = profiles.database
        and order_activity.profile_id = profiles.profile_id
    left join unsubscriptions
        on unsubscriptions.database = profiles.database
        and unsubscriptions.profile_id = profiles.profile_id
),

dated as (
    select
        database,
        source,
        first_seen_at,
        unsubscribed_at,
        case
            when {{ plus_days('last_active_at', var('churn_days')) }}
                <= max(last_active_at) over ()
                then {{ plus_days('last_active_at', var('churn_days')) }}
        end as churned_at
    from people
),

kinds as (
    select 'new' as change
    union all
    select 'unsubscribed' as change
    union all
    select 'churned' as change
),

changes as (
    select
        dated.database as database,
        dated.source as source,
        kinds.change as change,
        case kinds.change
            when 'new' then dated.first_seen_at
            when 'unsubscribed' then dated.unsubscribed_at
            else dated.churned_at
        end as changed_at
    from dated
    cross join kinds
),

days as (
    select
        database,
        source,
        {{ to_date('changed_at') }} as day,
        count(case when change = 'new' then 1 end) as new_profiles,
        count(case when change = 'unsubscribed' then 1 end) as unsubscribed,
        count(case when change = 'churned' then 1 end) as churned
    from changes
    where changed_at is not null
    group by database, source, {{ to_date('changed_at') }}
),

grains as (
    select 'day' as grain
    union all
    select 'week' as grain
    union all
    select 'month' as grain
),

periods as (
    select
        days.database as database,
        grains.grain as grain,
        case grains.grain
            when 'day' then days.day
            when 'week' then {{ period_start('days.day', 'week') }}
            else {{ period_start('days.day', 'month') }}
        end as period_start,
        days.source as source,
        cast(sum(days.new_profiles) as bigint) as new_profiles,
        cast(sum(days.unsubscribed) as bigint) as unsubscribed,
        cast(sum(days.churned) as bigint) as churned
    from days
    cross join grains
    group by
        days.database,
        grains.grain,
        case grains.grain
            when 'day' then days.day
            when 'week' then {{ period_start('days.day', 'week') }}
            else {{ period_start('days.day', 'month') }}
        end,
        days.source
),

final as (
    select
        database,
        grain,
        period_start,
        source,
        new_profiles,
        unsubscribed,
        churned,
        new_profiles - unsubscribed - churned as net_growth,
        cast(sum(new_profiles - unsubscribed - churned) over (
            partition by database, grain, source
            order by period_start
            rows between unbounded preceding and current row
        ) as bigint) as cumulative_net_growth
    from periods
)

select * from final
