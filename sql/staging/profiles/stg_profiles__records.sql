with source as (
    select * from {{ source('profiles', 'profile_records') }}
),

final as (
    select
        database,
        source,
        import_id,
        row_number,
        record_key,
        mode,
        imported_at,
        fields,
        _file
    from source
)

select * from final
