with

source as (

    select * from {{ source('pipeline', 'load_log') }}

),

renamed as (

    select
        -- ids
        dataset,
        ds as snapshot_ds,

        -- provenance
        source_uri as lake_object,
        sha256,
        fetched_from,
        fetched_at,

        -- measures
        rows,

        -- timestamps
        loaded_at

    from source

)

select * from renamed
