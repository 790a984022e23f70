{#
  Clicks per campaign, link and the link's position in the email, for a heat-map overlay.
#}
with email_events as (
    select
        coalesce(campaign_id, '') as campaign_id,
        message_id,
        event_type,
        url,
        link_position
    from {{ ref('message_events') }}
    where channel = 'email'
),

delivered as (
    select campaign_id, count(distinct message_id) as delivered
    from email_events
    where event_type = 'delivered'
    group by campaign_id
),

links as (
    select
        campaign_id,
        coalesce(url, '') as url,
        coalesce(link_position, 0) as link_position,
        count(*) as clicks,
        count(distinct message_id) as unique_clicks
    from email_events
    where event_type = 'clicked'
    group by campaign_id, coalesce(url, ''), coalesce(link_position, 0)
),

campaign_clicks as (
    select campaign_id, sum(clicks) as campaign_clicks
    from links
    group by campaign_id
),

final as (
    select
        links.campaign_id as campaign_id,
        links.url as url,
        links.link_position as link_position,
        links.clicks as clicks,
        links.unique_clicks as unique_clicks,
        {{ ratio('links.clicks', 'campaign_clicks.campaign_clicks') }} as share_of_clicks,
        {{ ratio('links.unique_clicks', 'delivered.delivered') }} as click_rate
    from links
    left join campaign_clicks on campaign_clicks.campaign_id = links.campaign_id
    left join delivered on delivered.campaign_id = links.campaign_id
)

select * from final
