{#- One row: the three sub-answers on the as-of date (the run's ds, or the data's newest date if that
    is older), and where they come from. -#}
with

satellites as (

    select * from {{ ref('fct_starlink_satellites') }}

),

launches as (

    select * from {{ ref('dim_launches') }} where is_starlink and has_happened

),

measured as (

    -- the rates as measured, whatever the forecast assumes (SATELLITES_PER_LAUNCH, DECAYS_PER_MONTH)
    select * from {{ ref('int_forecast_parameters__fitted') }}
    where fit = 'answer' and scenario = 'constant_cadence'

),

source as (

    select * from {{ ref('int_sources__as_of') }} where is_forecast_source

),

final as (

    select
        src.as_of_date,
        src.data_as_of_date,
        src.source_name as forecast_source,
        src.snapshot_ds,
        (select count(*) from satellites where is_in_orbit) as satellites_in_orbit,
        (select count(*) from satellites where launch_date <= src.as_of_date) as satellites_launched,
        (select count(*) from satellites where decayed_on <= src.as_of_date) as satellites_decayed,
        (select count(*) from launches) as starlink_launches,
        (select min(launch_date) from launches) as first_launch_date,
        (select max(launch_date) from launches) as last_launch_date,
        (select count(*) from launches
            where launch_date > (src.as_of_date - make_interval(months => {{ cadence_window_months() }}))::date)
            as launches_trailing,
        round(m.launches_per_month::numeric, 3)::float8 as launches_per_month_trailing,
        round(m.satellites_per_launch_measured::numeric, 2)::float8 as satellites_per_launch_trailing,
        -- no launch yet (a ds before the first): 0, like every other figure
        coalesce(round((select avg(satellites_carried) from launches), 2)::float8, 0) as satellites_per_launch_all_time,
        round(m.decays_per_month_measured::numeric, 2)::float8 as decays_per_month_trailing,
        {{ cadence_window_months() }} as trailing_months
    from source as src
    cross join measured as m

)

select * from final
