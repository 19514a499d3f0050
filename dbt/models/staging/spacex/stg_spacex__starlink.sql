with

source as (

    select * from {{ source('spacex', 'starlink') }}
    where ds = {{ snapshot_ds('starlink') }}

),

renamed as (

    select
        -- ids
        id as satellite_id,
        norad_id,
        launch_id as api_launch_id,
        object_id as cospar_id,
        -- the launch part of the COSPAR designator: year and launch number of that year
        substring(object_id from '^([0-9]{4}-[0-9]{3})') as cospar_launch,

        -- descriptions
        object_name,
        version,

        -- dates
        launch_date,
        decay_date,
        epoch as epoch_at,

        -- flags: a decay date means decayed, whatever the flag says
        coalesce(decayed, false) or decay_date is not null as is_decayed,

        -- measures
        height_km,
        latitude,
        longitude,
        velocity_kms,
        inclination_deg,
        period_min,
        apoapsis_km,
        periapsis_km,

        ds as snapshot_ds

    from source

)

select * from renamed
