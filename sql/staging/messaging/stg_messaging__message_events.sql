with source as (
    select * from {{ source('messaging', 'message_events') }}
),

final as (
    select
        event_id,
        message_id,
        campaign_id,
        channel,
        recipient,
        contact_id,
        event_type,
        occurred_at,
        url,
        link_position,
        bounce_type,
        smtp_code,
        smtp_status,
        diagnostic,
        provider,
        _file
    from source
)

select * from final
