{#
  Messages that were not delivered for a reason other than a bounce: failed (the provider or
  Herald could not send), deferred (temporarily refused, to be retried) and expired (retries
  gave up), with their reasons.
#}
with non_deliveries as (
    select * from {{ ref('message_events') }}
    where event_type in ('failed', 'deferred', 'expired')
),

final as (
    select
        event_date as report_date,
        channel,
        coalesce(campaign_id, '') as campaign_id,
        event_type as outcome,
        coalesce(smtp_status, '') as smtp_status,
        coalesce(diagnostic, 'unknown') as reason,
        coalesce(provider, '') as provider,
        count(*) as events,
        count(distinct message_id) as messages
    from non_deliveries
    group by
        event_date, channel, coalesce(campaign_id, ''), event_type, coalesce(smtp_status, ''),
        coalesce(diagnostic, 'unknown'), coalesce(provider, '')
)

select * from final
