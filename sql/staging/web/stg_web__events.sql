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
        {{ as_text('title') }} as title,
        {{ blank_to_null('referrer') }} as referrer,
        {{ url_host('referrer') }} as referrer_host,
        {{ as_text('utm_source') }} as utm_source,
        {{ as_text('utm_medium') }} as utm_medium,
        {{ as_text('utm_campaign') }} as utm_campaign,
        {{ as_text('utm_content') }} as utm_content,
        {{ as_text('utm_term') }} as utm_term,
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
