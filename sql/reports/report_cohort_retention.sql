{#
  Monthly retention by the month of each profile's first order: the share of the cohort that
  ordered again N months later. Orders count unless cancelled. Dense: every cohort has a row
  for every month up to the month of the latest order in the data (active 0 included).
  `herald report cohort` computes other cohorts, periods and activities on demand with the
  same definitions.
#}
with orders as (
    select database, profile_id, created_at
    from {{ asset_table('profile_orders') }}
    where coalesce(status, '') <> 'cancelled'
),

firsts as (
    select
        database,
        profile_id,
        {{ period_start('min(created_at)', 'month') }} as cohort
    from orders
    group by database, profile_id
),

sizes as (
    select database, cohort, count(*) as cohort_size
    from firsts
    group by database, cohort
),

horizon as (
    select {{ month_number('max(created_at)') }} as horizon_month from orders
),

grid as (
    select sizes.database as database, sizes.cohort as cohort, sizes.cohort_size as cohort_size,
        months.n as period_index
    from sizes
    cross join horizon
    cross join ({{ integers(600) }}) as months
    where months.n <= horizon.horizon_month - {{ month_number('sizes.cohort') }}
),

activity as (
    select
        orders.database as database,
        firsts.cohort as cohort,
        {{ month_number('orders.created_at') }} - {{ month_number('firsts.cohort') }}
            as period_index,
        count(distinct orders.profile_id) as active
    from orders
    inner join firsts
        on firsts.database = orders.database and firsts.profile_id = orders.profile_id
    group by
        orders.database,
        firsts.cohort,
        {{ month_number('orders.created_at') }} - {{ month_number('firsts.cohort') }}
),

final as (
    select
        grid.database as database,
        grid.cohort as cohort,
        grid.period_index as period_index,
        grid.cohort_size as cohort_size,
        coalesce(activity.active, 0) as active,
        {{ ratio('coalesce(activity.active, 0)', 'grid.cohort_size') }} as retention
    from grid
    left join activity
        on activity.database = grid.database
        and activity.cohort = grid.cohort
        and activity.period_index = grid.period_index
)

select * from final
