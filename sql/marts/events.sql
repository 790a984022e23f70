with web_events as (
    select * from {{ ref('stg_web__events') }}
    {% if is_incremental() %}
    where received_at > (
        select {{ hours_before('max(received_at)', var('incremental_lookback_hours')) }}
        from {{ this }}
    )
    {% endif %}
),

deduplicated as (
    {{ deduplicate('web_events', 'event_id', 'received_at, _file') }}
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
        properties
    from deduplicated
)

select * from final
