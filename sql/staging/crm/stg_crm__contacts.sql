with source as (
    select * from {{ source('crm', 'crm_contacts') }}
),

typed as (
    select
        trim(contact_id) as contact_id,
        {{ blank_to_null('first_name') }} as first_name,
        {{ blank_to_null('last_name') }} as last_name,
        {{ normalize_email('email') }} as email,
        {{ blank_to_null('email') }} as email_raw,
        {{ normalize_phone('phone') }} as phone,
        {{ blank_to_null('phone') }} as phone_raw,
        {{ parse_date('birthday') }} as birthday,
        {{ blank_to_null('city') }} as city,
        case lower(trim(gender))
            when 'm' then 'm'
            when 'м' then 'm'
            when 'f' then 'f'
            when 'ж' then 'f'
        end as gender,
        {{ blank_to_null('loyalty_level') }} as loyalty_level,
        {{ safe_int('loyalty_points') }} as loyalty_points,
        {{ parse_timestamp('created_at') }} as created_at,
        {{ parse_timestamp('updated_at') }} as updated_at,
        _file
    from source
    where {{ blank_to_null('contact_id') }} is not null
),

final as (
    {{ deduplicate('typed', 'contact_id', 'updated_at desc, _file desc') }}
)

select * from final
