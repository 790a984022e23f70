with source as (
    select * from {{ source('herald', 'herald_message_events') }}
),

final as (
    select
        event_id,
        {{ as_text('message_id') }} as message_id,
        {{ as_text('campaign_id') }} as campaign_id,
        {{ as_text('campaign_run') }} as campaign_run,
        {{ as_text('channel') }} as channel,
        {{ as_text('recipient') }} as recipient,
        {{ as_text('contact_id') }} as contact_id,
        {{ as_text('database') }} as database,
        {{ as_text('profile_id') }} as profile_id,
        event_type,
        occurred_at,
        {{ as_text('url') }} as url,
        link_position,
        {{ as_text('bounce_type') }} as bounce_type,
        smtp_code,
        {{ as_text('smtp_status') }} as smtp_status,
        {{ as_text('diagnostic') }} as diagnostic,
        {{ as_text('provider') }} as provider,
        {{ as_text('ip') }} as ip,
        {{ as_text('user_agent') }} as user_agent,
        {{ blank_to_null(as_text('automated')) }} as automated,
        _file
    from source
)

select * from final
