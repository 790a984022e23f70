with source as (
    select * from {{ source('shop', 'orders') }}
),

final as (
    select
        order_id,
        customer_id,
        created_at,
        updated_at,
        status,
        currency,
        total,
        discount,
        {{ blank_to_null('promo_code') }} as promo_code,
        channel,
        utm_source,
        utm_campaign,
        _file
    from source
)

select * from final
