{#- Each scenario's projected constellation, month by month from the as-of date until it reaches
    the target (or the horizon): the lines of the report's chart. -#}
with

path as (

    select * from {{ ref('int_forecast_paths__projected') }} where fit = 'answer'

),

forecast as (

    select scenario, months_needed from {{ ref('fct_starlink_forecast') }}

),

final as (

    select
        p.scenario,
        p.month_offset,
        p.projected_on,
        round(p.launches_in_month::numeric, 3)::float8 as launches_in_month,
        round(p.cumulative_launches::numeric, 3)::float8 as cumulative_launches,
        round(p.projected_in_orbit::numeric, 1)::float8 as projected_in_orbit
    from path as p
    inner join forecast as f using (scenario)
    where p.month_offset <= coalesce(ceil(f.months_needed), 120)

)

select * from final
