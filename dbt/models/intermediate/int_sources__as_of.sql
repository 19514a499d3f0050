{#- How current each source is, and which one the answer uses (the freshest).
    As-of date = the newest date a source's satellite records contain (launch, decay or orbit
    epoch): what the data describes, not when the pipeline ran. A source with no rows for the run
    (switched off, or never loaded) is absent. -#}
with

spacex as (

    select
        'spacex_api' as source_name,
        max(greatest(launch_date, decay_date, (epoch_at at time zone 'UTC')::date)) as as_of_date,
        count(*) as satellites,
        max(snapshot_ds) as snapshot_ds
    from {{ ref('stg_spacex__starlink') }}

),

satcat as (

    select
        'celestrak_satcat' as source_name,
        max(greatest(launch_date, decay_date)) as as_of_date,
        count(*) as satellites,
        max(snapshot_ds) as snapshot_ds
    from {{ ref('stg_celestrak__satcat') }}

),

sources as (

    select * from spacex where as_of_date is not null
    union all
    select * from satcat where as_of_date is not null

),

ranked as (

    select
        *,
        -- the freshest; on a tie the SpaceX API, whose records carry launch links
        row_number() over (order by as_of_date desc, source_name desc) = 1 as is_forecast_source
    from sources

)

select * from ranked
