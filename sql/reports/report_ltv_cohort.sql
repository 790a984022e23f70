{#
  Lifetime value by cohort: customers grouped by the month of their first paid order (paid,
  shipped or delivered), with revenue, orders and their running totals for every month since,
  up to the month of the latest paid order in the data.
#}
with orders as (
    select database, profile_id, order_id, created_at, total
    from {{ asset_table('profile_orders') }}
    where status in ('paid', 'shipped', 'delivered')
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
    select database, cohort, count(*) as customers
    from firsts
    group by database, cohort
),

horizon as (
    select {{ month_number('max(created_at)') }} as horizon_month from orders
),

grid as (
    select sizes.database as database, sizes.cohort as cohort, sizes.customers as customers,
        months.n as months_since_first_order
    from sizes
    cross join horizon
    cross join ({{ integers(600) }}) as months
    where months.n <= horizon.horizon_month - {{ month_number('sizes.cohort') }}
),

monthly as (
    select
        orders.database as database,
        firsts.cohort as cohort,
        {{ month_number('orders.created_at') }} - {{ month_number('firsts.cohort') }}
            as months_since_first_order,
        count(*) as orders,
        sum(orders.total) as revenue
    from orders
    inner join firsts
        on firsts.database = orders.database and firsts.profile_id = orders.profile_id
    group by
        orders.database,
        firsts.cohort,
        {{ month_number('orders.created_at') }} - {{ month_number('firsts.cohort') }}
),

filled as (
    select
        grid.database as database,
        grid.cohort as cohort,
        grid.months_since_first_order as months_since_first_order,
        grid.customers as customers,
        coalesce(monthly.orders, 0) as orders,
        coalesce(monthly.revenue, 0) as revenue
    from grid
    left join monthly
        on monthly.database = grid.database
        and monthly.cohort = grid.cohort
        and monthly.months_since_first_order = grid.months_since_first_order
),

running as (
    select
        database,
        cohort,
        months_since_first_order,
        customers,
        orders,
        revenue,
        cast(sum(orders) over (
            partition by database, cohort order by months_since_first_order
            rows between unbounded preceding and current row
        ) as bigint) as cumulative_orders,
        sum(revenue) over (
            partition by database, cohort order by months_since_first_order
            rows between unbounded preceding and current row
        ) as cumulative_revenue
    from filled
),

final as (
    select
        database,
        cohort,
        months_since_first_order,
        customers,
        orders,
        revenue,
        cumulative_orders,
        cumulative_revenue,
        {{ ratio('cumulative_revenue', 'customers') }} as ltv_per_customer,
        {{ ratio('cumulative_revenue', 'cumulative_orders') }} as average_order_value,
        {{ ratio('cumulative_orders', 'customers') }} as purchase_frequency
    from running
)

select * from final
