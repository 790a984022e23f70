{#
  Form submissions per day and form: the website's sign-up form (web_signups) and every
  Form Submitted event (its `form_id` property names the form).
#}
with signups as (
    select
        {{ to_date('signed_up_at') }} as report_date,
        'signup' as form,
        anonymous_id as visitor_id
    from {{ ref('stg_web__signups') }}
),

form_events as (
    select
        event_date as report_date,
        coalesce({{ seg_json_text('properties', 'form_id') }}, '') as form,
        coalesce(anonymous_id, user_id) as visitor_id
    from {{ ref('events') }}
    where event_name = 'Form Submitted'
),

submissions as (
    select * from signups
    union all
    select * from form_events
),

final as (
    select
        report_date,
        form,
        count(*) as submissions,
        count(distinct visitor_id) as visitors
    from submissions
    group by report_date, form
)

select * from final
