with delivered_feed as (
    select * from {{ ref('stg_messaging__message_events') }}
    {% if is_incremental() %}
    where occurred_at > (
        select {{ hours_before('max(occurred_at)', var('incremental_lookback_hours')) }}
        from {{ this }}
    )
    {% endif %}
),

herald_feed as (
    select * from {{ ref('stg_herald__message_events') }}
    {% if is_incremental() %}
    where occurred_at > (
        select {{ hours_before('max(occurred_at)', var('incremental_lookback_hours')) }}
        from {{ this }}
    )
    {% endif %}
),

message_events as (
    select
        delivered_feed.event_id as event_id,
        delivered_feed.message_id as message_id,
        delivered_feed.campaign_id as campaign_id,
        {{ as_text('null') }} as campaign_run,
        delivered_feed.channel as channel,
        delivered_feed.recipient as recipient,
        delivered_feed.contact_id as contact_id,
        {{ as_text('null') }} as database,
        {{ as_text('null') }} as profile_id,
        delivered_feed.event_type as event_type,
        delivered_feed.occurred_at as occurred_at,
        delivered_feed.url as url,
        delivered_feed.link_position as link_position,
        delivered_feed.bounce_type as bounce_type,
        delivered_feed.smtp_code as smtp_code,
        delivered_feed.smtp_status as smtp_status,
        delivered_feed.diagnostic as diagnostic,
        delivered_feed.provider as provider,
        {{ as_text('null') }} as automated,
        {{ as_text('null') }} as user_agent,
        {{ as_text('null') }} as ip,
        delivered_feed._file as _file
    from delivered_feed
    union all
    select
        herald_feed.event_id as event_id,
        herald_feed.message_id as message_id,
        herald_feed.campaign_id as campaign_id,
        herald_feed.campaign_run as campaign_run,
        herald_feed.channel as channel,
        herald_feed.recipient as recipient,
        herald_feed.contact_id as contact_id,
        herald_feed.database as database,
        herald_feed.profile_id as profile_id,
        herald_feed.event_type as event_type,
        herald_feed.occurred_at as occurred_at,
        herald_feed.url as url,
        herald_feed.link_position as link_position,
        herald_feed.bounce_type as bounce_type,
        herald_feed.smtp_code as smtp_code,
        herald_feed.smtp_status as smtp_status,
        herald_feed.diagnostic as diagnostic,
        herald_feed.provider as provider,
        herald_feed.automated as automated,
        herald_feed.user_agent as user_agent,
        herald_feed.ip as ip,
        herald_feed._file as _file
    from herald_feed
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
        provider,
        campaign_run,
        database,
        profile_id,
        automated,
        user_agent,
        ip
    from deduplicated
)

select * from final
