{#- The sources behind the answer, how current each is, which one the forecast uses, and where and
    when the snapshot read was fetched (recorded by its load). -#}
with

sources as (

    select * from {{ ref('int_sources__as_of') }}

),

loads as (

    select * from {{ ref('stg_pipeline__load_log') }}

),

final as (

    select
        s.source_name,
        s.as_of_date,
        s.satellites,
        s.snapshot_ds,
        s.is_forecast_source,
        l.fetched_from,
        l.fetched_at
    from sources as s
    left join loads as l
        -- the satellite dataset each source's as-of date and count come from
        on l.dataset = case s.source_name when 'spacex_api' then 'starlink' else 'satcat' end
       and l.snapshot_ds = s.snapshot_ds

)

select * from final
