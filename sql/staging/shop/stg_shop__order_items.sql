with source as (
    select * from {{ source('shop', 'order_items') }}
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
        _file
    from source
)

select * from final
