{#- One row per satellite (NORAD catalogue number), from every source that lists it. -#}
with

spacex as (

    select * from {{ ref('stg_spacex__starlink') }}

),

reconciled as (

    select
        norad_id,
        satellite_id as spacex_satellite_id,
        api_launch_id,
        cospar_id,
        cospar_launch,
        object_name,
        version,
        launch_date,
        decay_date,
        is_decayed,
        epoch_at,
        true as in_spacex_api,
        false as in_satcat,
        'spacex_api' as decay_source
    from spacex

)

select * from reconciled
