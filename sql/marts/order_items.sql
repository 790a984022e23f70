with items as (
    select * from {{ ref('stg_shop__order_items') }}
),

deduplicated as (
    {{ deduplicate('items', 'order_id, line_number', '_file desc') }}
),

final as (
    select
        order_id,
        line_number,
        product_id,
        product_name,
        category,
        brand,
        quantity,
        unit_price,
        round(quantity * unit_price, 2) as line_total
    from deduplicated
)

select * from final
