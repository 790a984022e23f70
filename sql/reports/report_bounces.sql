{#
  Bounces per day, campaign, RFC 3463 class and subject, status code, receiving domain and
  mailbox provider.
#}
with bounces as (
    select * from {{ ref('message_events') }}
    where event_type = 'bounced'
),

classified as (
    select
        event_date,
        coalesce(campaign_id, '') as campaign_id,
        channel,
        coalesce(bounce_type, 'unknown') as bounce_type,
        coalesce(status_class, 'unknown') as status_class,
        coalesce(smtp_status, '') as smtp_status,
        coalesce({{ status_subject('smtp_status') }}, 'unknown') as status_subject,
        coalesce(recipient_domain, '') as recipient_domain,
        coalesce({{ mailbox_provider('recipient_domain') }}, coalesce(provider, '')) as mailbox_provider,
        message_id,
        recipient
    from bounces
),

final as (
    select
        event_date as report_date,
        campaign_id,
        channel,
        bounce_type,
        status_class,
        smtp_status,
        status_subject,
        recipient_domain,
        mailbox_provider,
        count(*) as bounces,
        count(distinct message_id) as messages,
        count(distinct recipient) as recipients
    from classified
    group by
        event_date, campaign_id, channel, bounce_type, status_class, smtp_status,
        status_subject, recipient_domain, mailbox_provider
)

select * from final
