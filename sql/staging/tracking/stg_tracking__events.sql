with source as (
    select * from {{ source('tracking', 'events') }}
),

final as (
    select
        message_id as event_id,
        type as event_type,
        event as event_name,
        {{ blank_to_null(as_text('name')) }} as name,
        {{ as_text('anonymous_id') }} as anonymous_id,
        {{ blank_to_null(as_text('user_id')) }} as user_id,
        {{ as_text('session_id') }} as session_id,
        {{ as_text('device_id') }} as device_id,
        timestamp as occurred_at,
        received_at,
        sent_at,
        {{ as_text('url') }} as url,
        {{ as_text('path') }} as path,
        {{ as_text('title') }} as title,
        {{ blank_to_null(as_text('referrer')) }} as referrer,
        {{ url_host(blank_to_null(as_text('referrer'))) }} as referrer_host,
        {{ as_text('utm_source') }} as utm_source,
        {{ as_text('utm_medium') }} as utm_medium,
        {{ as_text('utm_campaign') }} as utm_campaign,
        {{ as_text('utm_content') }} as utm_content,
        {{ as_text('utm_term') }} as utm_term,
        {{ as_text('product_id') }} as product_id,
        {{ as_text('category') }} as category,
        {{ as_text('brand') }} as brand,
        price,
        {{ as_text('goal') }} as goal,
        {{ as_text('properties') }} as properties,
        {{ as_text('traits') }} as traits,
        {{ as_text('context') }} as context,
        {{ blank_to_null(as_text('group_id')) }} as group_id,
        {{ blank_to_null(as_text('previous_id')) }} as previous_id,
        source,
        {{ as_text('database') }} as database,
        {{ as_text('ip') }} as ip,
        {{ as_text('user_agent') }} as user_agent,
        {{ blank_to_null(as_text('automated')) }} as automated,
        {{ blank_to_null(as_text('herald_profile_id')) }} as herald_profile_id,
        _file
    from source
)

select * from final
