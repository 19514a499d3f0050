{#- The sources behind the answer: how current each is (its newest record, and the date it answers
    for), which one the forecast uses, when and where the snapshot read was fetched and loaded (its
    load), and the freshness verdict of the run (`dbt source freshness` as of the run's date; null
    when no check was recorded for it). -#}
with

sources as (

    select * from {{ ref('int_sources__as_of') }}

),

loads as (

    select * from {{ ref('stg_pipeline__load_log') }}

),

checks as (

    select * from {{ ref('stg_pipeline__source_freshness') }}
    where run_ds = {% if var('ds', none) %}'{{ var("ds") }}'::date{% else %}(
        select max(run_ds) from {{ ref('stg_pipeline__source_freshness') }}
    ){% endif %}

),

final as (

    select
        s.source_name,
        s.as_of_date,
        s.data_as_of_date,
        s.satellites,
        s.snapshot_ds,
        s.is_forecast_source,
        l.fetched_from,
        l.fetched_at,
        l.loaded_at,
        c.freshness,
        c.age_days as freshness_age_days,
        c.warn_after_days,
        c.error_after_days
    from sources as s
    -- the satellite dataset each source's as-of date and count come from
    cross join lateral (
        select case s.source_name when 'spacex_api' then 'starlink' else 'satcat' end as dataset
    ) as d
    left join loads as l
        on l.dataset = d.dataset
       and l.snapshot_ds = s.snapshot_ds
    left join checks as c
        on c.dataset = d.dataset

)

select * from final
