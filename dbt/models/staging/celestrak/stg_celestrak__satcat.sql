with

source as (

    select * from {{ source('celestrak', 'satcat') }}
    where ds = {{ snapshot_ds('satcat') }}
    {%- if not use_satcat() %}
      and false  -- switched off: older snapshots must not answer for it
    {%- endif %}

),

renamed as (

    select
        -- ids
        norad_id,
        object_id as cospar_id,
        substring(object_id from '^([0-9]{4}-[0-9]{3})') as cospar_launch,

        -- descriptions
        object_name,
        ops_status_code,
        ops_status,

        -- dates
        launch_date,
        decay_date,

        -- flags
        decay_date is not null or ops_status_code = 'D' as is_decayed,

        -- measures
        period_min,
        inclination_deg,
        apogee_km,
        perigee_km,

        ds as snapshot_ds

    from source

)

select * from renamed
