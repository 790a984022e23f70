with message_events as (
    select * from {{ ref('stg_messaging__message_events') }}
    {% if is_incremental() %}
    where occurred_at > (
        select {{ hours_before('max(occurred_at)', var('incremental_lookback_hours')) }}
        from {{ this }}
    )
    {% endif %}
),

deduplicated as (
    {{ deduplicate('message_events', 'event_id', '_file') }}
),

final as (
    select
        event_id,
        message_id,
        campaign_id,
        channel,
        recipient,
        case when channel = 'email' then {{ email_domain('lower(recipient)') }} end
            as recipient_domain,
        contact_id,
        event_type,
        occurred_at,
        {{ to_date('occurred_at') }} as event_date,
        url,
        link_position,
        bounce_type,
        case
            when smtp_status like '5.%' then 'permanent'
            when smtp_status like '4.%' then 'transient'
        end as status_class,
        smtp_code,
        smtp_status,
        diagnostic,
        provider
    from deduplicated
)

select * from final
