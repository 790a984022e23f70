with changes as (
    select * from {{ source('crm', 'subscriptions') }}
),

final as (
    select
        contact_id,
        channel,
        resource,
        status,
        changed_at,
        source as change_source,
        _file
    from changes
)

select * from final
