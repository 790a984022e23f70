with source as (
    select * from {{ source('web', 'devices') }}
),

final as (
    select
        device_id,
        anonymous_id,
        customer_id,
        signup_id,
        platform,
        os,
        os_version,
        browser,
        app_version,
        {{ blank_to_null('push_token') }} as push_token,
        first_seen_at,
        last_seen_at,
        _file
    from source
)

select * from final
