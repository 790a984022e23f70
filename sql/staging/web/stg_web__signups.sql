with source as (
    select * from {{ source('web', 'web_signups') }}
),

final as (
    select
        signup_id,
        anonymous_id,
        {{ normalize_email('email') }} as email,
        email as email_raw,
        {{ normalize_phone('phone') }} as phone,
        phone as phone_raw,
        {{ blank_to_null('name') }} as full_name,
        {{ blank_to_null('city') }} as city,
        signed_up_at,
        utm_source,
        utm_medium,
        utm_campaign,
        consent_email,
        consent_sms,
        _file
    from source
)

select * from final
