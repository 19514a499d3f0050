{#- How current each source is, which one the answer uses, and the date the answer describes.
    data_as_of_date = the newest date a source's satellite records contain (launch, decay or orbit
    epoch): what the data describes, not when the pipeline ran. The answer uses the freshest source,
    whatever the run's ds (one source for a whole backfill). as_of_date = the run's ds, or the data's
    newest date if that is older: a past ds is answered as of that day, from the records as they
    stand. A source with no rows for the run (switched off, or never loaded) is absent. -#}
with

spacex as (

    select
        'spacex_api' as source_name,
        max(greatest(launch_date, decay_date, (epoch_at at time zone 'UTC')::date)) as data_as_of_date,
        count(*) as satellites,
        max(snapshot_ds) as snapshot_ds
    from {{ ref('stg_spacex__starlink') }}

),

satcat as (

    select
        'celestrak_satcat' as source_name,
        max(greatest(launch_date, decay_date)) as data_as_of_date,
        count(*) as satellites,
        max(snapshot_ds) as snapshot_ds
    from {{ ref('stg_celestrak__satcat') }}

),

sources as (

    select * from spacex where data_as_of_date is not null
    union all
    select * from satcat where data_as_of_date is not null

),

ranked as (

    select
        source_name,
        -- least() skips the null of a run without a ds
        least(data_as_of_date, {{ run_ds() }}) as as_of_date,
        data_as_of_date,
        satellites,
        snapshot_ds,
        -- the freshest; on a tie the SpaceX API, whose records carry launch links
        row_number() over (order by data_as_of_date desc, source_name desc) = 1 as is_forecast_source
    from sources

)

select * from ranked
