{#
  Messages per send day, channel and campaign. Every event of a message counts on the day the
  message was sent (or, with no `sent` event, on the day of its first event), so rates never
  mix messages of different days. An order is attributed to the last message its profile
  clicked within var('attribution_window_days') before the order (last click wins; once per
  order, whatever the profile database). Opens and clicks by mail privacy proxies, link
  scanners and other machines (`automated` set by the tracker's loader) are not counted.
#}
with message_events as (
    select * from {{ ref('message_events') }}
),

orders as (
    select * from {{ ref('orders') }}
),

profile_orders as (
    select * from {{ asset_table('profile_orders') }}
),

profile_message_events as (
    select * from {{ asset_table('profile_message_events') }}
),

messages as (
    select
        message_id,
        {{ any_of('channel') }} as message_channel,  -- one channel and campaign per message
        {{ any_of('campaign_id') }} as message_campaign,
        {{ to_date("coalesce(min(case when event_type = 'sent' then occurred_at end), min(occurred_at))") }}
            as send_date,
        count(case when event_type = 'sent' then 1 end) > 0 as is_sent,
        count(case when event_type = 'delivered' then 1 end) > 0 as is_delivered,
        count(case when event_type = 'opened' and automated is null then 1 end) as opens,
        count(case when event_type = 'clicked' and automated is null then 1 end) as clicks,
        count(case when event_type = 'unsubscribed' then 1 end) > 0 as is_unsubscribed,
        count(case when event_type = 'complained' then 1 end) > 0 as is_complaint,
        count(case when event_type = 'bounced' and bounce_type = 'hard' then 1 end) > 0
            as is_hard_bounce,
        count(case when event_type = 'bounced' and bounce_type = 'soft' then 1 end) > 0
            as is_soft_bounce,
        count(case when event_type = 'failed' then 1 end) > 0 as is_failed
    from message_events
    group by message_id
),

clicks as (
    select
        linked.database as database,
        linked.profile_id as profile_id,
        linked.occurred_at as clicked_at,
        events.message_id as message_id
    from profile_message_events as linked
    inner join message_events as events on events.event_id = linked.event_id
    where linked.event_type = 'clicked'
),

last_clicks as (
    select
        profile_orders.order_id as order_id,
        clicks.message_id as message_id,
        row_number() over (
            partition by profile_orders.order_id
            order by clicks.clicked_at desc, clicks.message_id
        ) as click_rank
    from profile_orders
    inner join clicks
        on clicks.database = profile_orders.database
        and clicks.profile_id = profile_orders.profile_id
    where clicks.clicked_at <= profile_orders.created_at
        and clicks.clicked_at > {{ plus_days('profile_orders.created_at', -var('attribution_window_days')) }}
),

attributed as (
    select
        last_clicks.message_id as message_id,
        count(*) as orders,
        sum(orders.total) as revenue
    from last_clicks
    inner join orders on orders.order_id = last_clicks.order_id
    where last_clicks.click_rank = 1 and orders.is_paid
    group by last_clicks.message_id
),

daily as (
    select
        messages.send_date as report_date,
        messages.message_channel as channel,
        messages.message_campaign as campaign_id,
        count(case when messages.is_sent then 1 end) as sent,
        count(case when messages.is_delivered then 1 end) as delivered,
        count(case when messages.opens > 0 then 1 end) as opened_unique,
        sum(messages.opens) as opened_total,
        count(case when messages.clicks > 0 then 1 end) as clicked_unique,
        sum(messages.clicks) as clicked_total,
        count(case when messages.is_unsubscribed then 1 end) as unsubscribed,
        count(case when messages.is_complaint then 1 end) as complaints,
        count(case when messages.is_soft_bounce and not messages.is_hard_bounce then 1 end)
            as soft_bounces,
        count(case when messages.is_hard_bounce then 1 end) as hard_bounces,
        count(case when messages.is_failed then 1 end) as failed,
        coalesce(sum(attributed.orders), 0) as attributed_orders,
        coalesce(sum(attributed.revenue), 0) as attributed_revenue
    from messages
    left join attributed on attributed.message_id = messages.message_id
    group by messages.send_date, messages.message_channel, messages.message_campaign
),

final as (
    select
        report_date,
        channel,
        campaign_id,
        sent,
        delivered,
        opened_unique,
        opened_total,
        clicked_unique,
        clicked_total,
        unsubscribed,
        complaints,
        soft_bounces,
        hard_bounces,
        failed,
        attributed_orders,
        attributed_revenue,
        {{ ratio('delivered', 'sent') }} as delivery_rate,
        {{ ratio('opened_unique', 'delivered') }} as open_rate,
        {{ ratio('clicked_unique', 'delivered') }} as click_rate,
        {{ ratio('clicked_unique', 'opened_unique') }} as click_to_open_rate,
        {{ ratio('unsubscribed', 'delivered') }} as unsubscribe_rate,
        {{ ratio('complaints', 'delivered') }} as complaint_rate,
        {{ ratio('soft_bounces + hard_bounces', 'sent') }} as bounce_rate,
        {{ ratio('attributed_orders', 'delivered') }} as conversion_rate
    from daily
)

select * from final
