{#- Each scenario's projected constellation and its interval band, month by month from the as-of
    date: the lines and the band of the report's chart. Until the band's late line reaches the
    target (twice the months the path needs when that line never does; 120 months when the path
    never does either). -#}
with

path as (

    select * from {{ ref('int_forecast_paths__banded') }}

),

forecast as (

    select scenario, months_needed, latest_months_needed, has_interval from {{ ref('fct_starlink_forecast') }}

),

final as (

    select
        p.scenario,
        p.month_offset,
        p.projected_on,
        round(p.launches_in_month::numeric, 3)::float8 as launches_in_month,
        round(p.cumulative_launches::numeric, 3)::float8 as cumulative_launches,
        round(p.projected_in_orbit::numeric, 1)::float8 as projected_in_orbit,
        round(p.low_in_orbit::numeric, 1)::float8 as low_in_orbit,
        round(p.high_in_orbit::numeric, 1)::float8 as high_in_orbit
    from path as p
    inner join forecast as f using (scenario)
    where p.month_offset <= coalesce(
        ceil(f.latest_months_needed),
        ceil(f.months_needed) * case when f.has_interval then 2 else 1 end,
        120
    )

)

select * from final
