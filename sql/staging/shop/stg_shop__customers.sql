with source as (
    select * from {{ source('shop', 'shop_customers') }}
),

final as (
    select
        customer_id,
        {{ normalize_email('email') }} as email,
        email as email_raw,
        {{ normalize_phone('phone') }} as phone,
        phone as phone_raw,
        {{ blank_to_null('first_name') }} as first_name,
        {{ blank_to_null('last_name') }} as last_name,
        birth_date,
        {{ blank_to_null('city') }} as city,
        registered_at,
        updated_at,
        _file
    from source
)

select * from final
