with

source as (

    select * from {{ source('spacex', 'launches') }}
    where ds = {{ snapshot_ds('launches') }}

),

renamed as (

    select
        -- ids
        id as launch_id,
        flight_number,
        rocket_id,
        launchpad_id,

        -- descriptions
        name as launch_name,
        date_precision,

        -- dates (UTC calendar date, whatever the session time zone)
        date_utc as launched_at,
        (date_utc at time zone 'UTC')::date as launch_date,

        -- flags
        coalesce(upcoming, false) as is_upcoming,
        success as is_success,
        name ilike '%starlink%' as is_starlink_named,

        -- measures
        payload_count,
        core_count,

        ds as snapshot_ds

    from source

)

select * from renamed
