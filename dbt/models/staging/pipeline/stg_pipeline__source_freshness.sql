with

source as (

    select * from {{ source('pipeline', 'source_freshness') }}

),

renamed as (

    select
        -- ids
        ds as run_ds,
        source as source_table,
        -- the dataset the source table holds: <dbt source>.<dataset>
        split_part(source, '.', 2) as dataset,

        -- the verdict
        status as freshness,
        as_of as as_of_date,
        age_days,
        warn_after_days,
        error_after_days,

        -- timestamps
        checked_at

    from source

)

select * from renamed
