with source as (
    select * from {{ source('web', 'web_events') }}
),

final as (
    select
        message_id as event_id,
        type as event_type,
        event as event_name,
        anonymous_id,
        {{ blank_to_null('user_id') }} as user_id,
        session_id,
        device_id,
        timestamp as occurred_at,
        received_at,
        url,
        path,
        title,
        {{ blank_to_null('referrer') }} as referrer,
        {{ url_host('referrer') }} as referrer_host,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_content,
        utm_term,
        product_id,
        category,
        brand,
        price,
        goal,
        properties,
        _file
    from source
)

select * from final
