with web_events as (
    select * from {{ ref('stg_web__events') }}
    {% if is_incremental() %}
    {#- Each feed from its own newest row (web rows have no source): one feed lagging behind
        the other must not fall outside the look-back. #}
    where coalesce(received_at > (
        select {{ hours_before('max(received_at)', var('incremental_lookback_hours')) }}
        from {{ this }}
        where source is null
    ), true)
    {% endif %}
),

tracked_events as (
    select * from {{ ref('stg_tracking__events') }}
    {% if is_incremental() %}
    where coalesce(received_at > (
        select {{ hours_before('max(received_at)', var('incremental_lookback_hours')) }}
        from {{ this }}
        where source is not null
    ), true)
    {% endif %}
),

all_events as (
    select
        web_events.event_id as event_id,
        web_events.event_type as event_type,
        web_events.event_name as event_name,
        {{ as_text('null') }} as name,
        web_events.occurred_at as occurred_at,
        web_events.received_at as received_at,
        web_events.anonymous_id as anonymous_id,
        web_events.user_id as user_id,
        web_events.session_id as session_id,
        web_events.device_id as device_id,
        web_events.url as url,
        web_events.path as path,
        web_events.title as title,
        web_events.referrer as referrer,
        web_events.referrer_host as referrer_host,
        web_events.utm_source as utm_source,
        web_events.utm_medium as utm_medium,
        web_events.utm_campaign as utm_campaign,
        web_events.utm_content as utm_content,
        web_events.utm_term as utm_term,
        web_events.product_id as product_id,
        web_events.category as category,
        web_events.brand as brand,
        web_events.price as price,
        web_events.goal as goal,
        web_events.properties as properties,
        {{ as_text('null') }} as traits,
        {{ as_text('null') }} as context,
        {{ as_text('null') }} as group_id,
        {{ as_text('null') }} as previous_id,
        {{ as_text('null') }} as source,
        {{ as_text('null') }} as database,
        {{ as_text('null') }} as automated,
        {{ as_text('null') }} as herald_profile_id,
        {{ as_text('null') }} as ip,
        {{ as_text('null') }} as user_agent,
        web_events._file as _file
    from web_events
    union all
    select
        tracked_events.event_id as event_id,
        tracked_events.event_type as event_type,
        tracked_events.event_name as event_name,
        tracked_events.name as name,
        tracked_events.occurred_at as occurred_at,
        tracked_events.received_at as received_at,
        tracked_events.anonymous_id as anonymous_id,
        tracked_events.user_id as user_id,
        tracked_events.session_id as session_id,
        tracked_events.device_id as device_id,
        tracked_events.url as url,
        tracked_events.path as path,
        tracked_events.title as title,
        tracked_events.referrer as referrer,
        tracked_events.referrer_host as referrer_host,
        tracked_events.utm_source as utm_source,
        tracked_events.utm_medium as utm_medium,
        tracked_events.utm_campaign as utm_campaign,
        tracked_events.utm_content as utm_content,
        tracked_events.utm_term as utm_term,
        tracked_events.product_id as product_id,
        tracked_events.category as category,
        tracked_events.brand as brand,
        tracked_events.price as price,
        tracked_events.goal as goal,
        tracked_events.properties as properties,
        tracked_events.traits as traits,
        tracked_events.context as context,
        tracked_events.group_id as group_id,
        tracked_events.previous_id as previous_id,
        tracked_events.source as source,
        tracked_events.database as database,
        tracked_events.automated as automated,
        tracked_events.herald_profile_id as herald_profile_id,
        tracked_events.ip as ip,
        tracked_events.user_agent as user_agent,
        tracked_events._file as _file
    from tracked_events
),

deduplicated as (
    {{ deduplicate('all_events', 'event_id', 'received_at, _file') }}
),

final as (
    select
        event_id,
        event_type,
        event_name,
        occurred_at,
        {{ to_date('occurred_at') }} as event_date,
        received_at,
        anonymous_id,
        user_id,
        session_id,
        device_id,
        url,
        path,
        title,
        referrer,
        referrer_host,
        {{ traffic_source('referrer_host', 'utm_medium') }} as traffic_source,
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
        name,
        traits,
        context,
        group_id,
        previous_id,
        source,
        database,
        automated,
        herald_profile_id,
        user_agent,
        ip
    from deduplicated
)

select * from final
