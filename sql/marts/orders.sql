with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

latest as (
    {{ deduplicate('orders', 'order_id', 'updated_at desc, _file desc') }}
),

items as (
    select * from {{ ref('order_items') }}
),

item_totals as (
    select
        order_id,
        count(*) as line_count,
        sum(quantity) as units,
        round(sum(line_total), 2) as items_total
    from items
    group by order_id
),

final as (
    select
        latest.order_id as order_id,
        latest.customer_id as customer_id,
        latest.created_at as created_at,
        {{ to_date('latest.created_at') }} as order_date,
        latest.updated_at as updated_at,
        latest.status as status,
        latest.status in ('paid', 'shipped', 'delivered') as is_paid,
        latest.currency as currency,
        latest.total as total,
        latest.discount as discount,
        latest.promo_code as promo_code,
        latest.channel as channel,
        latest.utm_source as utm_source,
        latest.utm_campaign as utm_campaign,
        coalesce(item_totals.line_count, 0) as line_count,
        coalesce(item_totals.units, 0) as units,
        coalesce(item_totals.items_total, 0) as items_total
    from latest
    left join item_totals on latest.order_id = item_totals.order_id
)

select * from final
