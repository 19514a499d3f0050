{#- One row: the three sub-answers on the as-of date, and where they come from. -#}
with

satellites as (

    select * from {{ ref('fct_starlink_satellites') }}

),

launches as (

    select * from {{ ref('dim_launches') }} where is_starlink and has_happened

),

forecast as (

    select * from {{ ref('fct_starlink_forecast') }} where scenario = 'constant_cadence'

),

source as (

    select * from {{ ref('int_sources__as_of') }} where is_forecast_source

),

final as (

    select
        src.as_of_date,
        src.source_name as forecast_source,
        src.snapshot_ds,
        (select count(*) from satellites where is_in_orbit) as satellites_in_orbit,
        (select count(*) from satellites where launch_date <= src.as_of_date) as satellites_launched,
        (select count(*) from satellites where decayed_on <= src.as_of_date) as satellites_decayed,
        (select count(*) from launches) as starlink_launches,
        (select min(launch_date) from launches) as first_launch_date,
        (select max(launch_date) from launches) as last_launch_date,
        (select count(*) from launches
            where launch_date > (src.as_of_date - make_interval(months => {{ var('trailing_months') }}))::date)
            as launches_trailing,
        f.launches_per_month as launches_per_month_trailing,
        f.satellites_per_launch as satellites_per_launch_trailing,
        round((select avg(satellites_carried) from launches), 2)::float8 as satellites_per_launch_all_time,
        f.decays_per_month as decays_per_month_trailing,
        {{ var('trailing_months') }} as trailing_months
    from source as src
    cross join forecast as f

)

select * from final
