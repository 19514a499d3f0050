{#- How current each source is, and which one the answer uses (the freshest).
    As-of date = the newest date a source's satellite records contain (launch, decay or orbit
    epoch): what the data describes, not when the pipeline ran. -#}
with

spacex as (

    select
        'spacex_api' as source_name,
        max(greatest(launch_date, decay_date, (epoch_at at time zone 'UTC')::date)) as as_of_date,
        count(*) as satellites,
        max(snapshot_ds) as snapshot_ds
    from {{ ref('stg_spacex__starlink') }}

),

sources as (

    select * from spacex where as_of_date is not null

),

ranked as (

    select
        *,
        row_number() over (order by as_of_date desc, source_name) = 1 as is_forecast_source
    from sources

)

select * from ranked
