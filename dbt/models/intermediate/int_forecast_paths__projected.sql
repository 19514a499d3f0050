{#- Each fit's projection, month by month from its as-of date, per scenario:
        launches(m)  = max(0, launches_per_month + cadence_slope_per_month * m)
        in_orbit(m)  = satellites_in_orbit + satellites_per_launch * sum(launches(1..m))
                       - decays_per_month * m
    (decays are losses that launches must replace). Month 0 is the as-of date itself. The answer's
    fit runs for forecast_max_months; a backtest's or cut-off's only as far as it is checked. -#}
{%- set checked = backtest_horizons() + [var('backtest_horizon_months') | int] %}
with

parameters as (

    select * from {{ ref('int_forecast_parameters__fitted') }}

),

months as (

    select
        p.fit,
        p.as_of_date,
        p.scenario,
        p.satellites_in_orbit,
        p.satellites_per_launch,
        p.decays_per_month,
        m.month_offset,
        case when m.month_offset = 0 then 0
             else greatest(p.launches_per_month + p.cadence_slope_per_month * m.month_offset, 0)
        end as launches_in_month
    from parameters as p
    cross join lateral generate_series(
        0, case when p.fit = 'answer' then {{ var('forecast_max_months') }} else {{ checked | max }} end
    ) as m (month_offset)

),

projected as (

    select
        fit,
        as_of_date,
        scenario,
        month_offset,
        (as_of_date + make_interval(months => month_offset))::date as projected_on,
        launches_in_month,
        sum(launches_in_month) over by_month as cumulative_launches,
        satellites_in_orbit
            + satellites_per_launch * sum(launches_in_month) over by_month
            - decays_per_month * month_offset as projected_in_orbit
    from months
    window by_month as (partition by fit, as_of_date, scenario order by month_offset)

)

select * from projected
