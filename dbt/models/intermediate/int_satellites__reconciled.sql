{#- One row per satellite (NORAD number) from every source that lists it.
    Launch facts should agree across sources; where they differ the SpaceX API's Space-Track copy
    wins for satellites it lists (it carries the launch link). Decay facts come from the freshest
    source that lists the satellite, since decays are learned after the fact. -#}
with

spacex as (

    select * from {{ ref('stg_spacex__starlink') }}

),

satcat as (

    select * from {{ ref('stg_celestrak__satcat') }}

),

freshness as (

    select
        max(data_as_of_date) filter (where source_name = 'spacex_api') as spacex_as_of,
        max(data_as_of_date) filter (where source_name = 'celestrak_satcat') as satcat_as_of
    from {{ ref('int_sources__as_of') }}

),

reconciled as (

    select
        coalesce(x.norad_id, c.norad_id) as norad_id,
        x.satellite_id as spacex_satellite_id,
        x.api_launch_id,
        coalesce(x.cospar_id, c.cospar_id) as cospar_id,
        coalesce(x.cospar_launch, c.cospar_launch) as cospar_launch,
        coalesce(x.object_name, c.object_name) as object_name,
        x.version,
        coalesce(x.launch_date, c.launch_date) as launch_date,
        case when use_satcat then c.decay_date else x.decay_date end as decay_date,
        case when use_satcat then c.is_decayed else x.is_decayed end as is_decayed,
        x.epoch_at,
        c.ops_status,
        x.norad_id is not null as in_spacex_api,
        c.norad_id is not null as in_satcat,
        case when use_satcat then 'celestrak_satcat' else 'spacex_api' end as decay_source
    from spacex as x
    full outer join satcat as c
        on c.norad_id = x.norad_id
    cross join freshness as f
    cross join lateral (
        select c.norad_id is not null
            and (x.norad_id is null or f.satcat_as_of >= coalesce(f.spacex_as_of, f.satcat_as_of)) as use_satcat
    ) as choice

)

select * from reconciled
