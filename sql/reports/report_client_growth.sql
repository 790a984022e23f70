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

people as (
    select
        profiles.database as database,
        profiles.profile_id as profile_id,
        least(
            profiles.created_at,
            coalesce(event_activity.first_at, profiles.created_at),
            coalesce(order_activity.first_at, profiles.created_at)
        ) as first_seen_at,
        greatest(
            coalesce(event_activity.last_at, order_activity.last_at),
            coalesce(order_activity.last_at, event_activity.last_at)
        ) as last_active_at,
        coalesce(event_activity.first_source, 'offline') as source
    from profiles
    left join event_activity
        on event_activity.database = profiles.database
        and event_activity.profile_id = profiles.profile_id
    left join order_activity
        on order_activity.database = profiles.database
        and order_activity.profile_id = profiles.profile_id
),

horizon as (
    select max(last_active_at) as horizon_at from people
),

unsubscriptions as (
    select database, profile_id, min(changed_at) as unsubscribed_at
    from subscription_states
    where status = 'unsubscribed'
    group by database, profile_id
),

changes as (
    select database, source, first_seen_at as changed_at, 'new' as change
    from people
    union all
    select people.database as database, people.source as source, unsubscriptions.unsubscribed_at as changed_at,
        'unsubscribed' as change
    from unsubscriptions
    inner join people
        on people.database = unsubscriptions.database
        and people.profile_id = unsubscriptions.profile_id
    union all
    select people.database as database, people.source as source,
        {{ plus_days('people.last_active_at', var('churn_days')) }} as changed_at,
        'churned' as change
    from people
    cross join horizon
    where people.last_active_at is not null
        and {{ plus_days('people.last_active_at', var('churn_days')) }} <= horizon.horizon_at
),

periods as (
    {% for grain in ['day', 'week', 'month'] %}
    select
        database,
        '{{ grain }}' as grain,
        {{ period_start('changed_at', grain) }} as period_start,
        source,
        count(case when change = 'new' then 1 end) as new_profiles,
        count(case when change = 'unsubscribed' then 1 end) as unsubscribed,
        count(case when change = 'churned' then 1 end) as churned
    from changes
    group by database, {{ period_start('changed_at', grain) }}, source
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
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
