{#- How good is the forecast? Fitted on the data up to a cut-off, its prediction of the satellites in
    orbit backtest_horizon_months later, against the count the data shows for that date. Decay
    dates recorded after the cut-off are used for both sides, so the error measures the method,
    not late reporting. -#}
with

parameters as (

    select * from {{ ref('int_forecast_parameters__fitted') }} where fit = 'backtest'

),

at_horizon as (

    -- the backtest's path, backtest_horizon_months after the cut-off
    select *
    from {{ ref('int_forecast_paths__projected') }}
    where fit = 'backtest'
      and month_offset = {{ var('backtest_horizon_months') }}

),

satellites as (

    select * from {{ ref('fct_starlink_satellites') }}

),

predicted as (

    select
        i.scenario,
        i.as_of_date as cutoff_date,
        p.projected_on as checked_on,
        i.satellites_in_orbit as in_orbit_at_cutoff,
        p.projected_in_orbit as predicted_in_orbit
    from parameters as i
    inner join at_horizon as p using (scenario)

),

as_of as (

    select as_of_date from {{ ref('int_sources__as_of') }} where is_forecast_source

),

compared as (

    select
        p.scenario,
        p.cutoff_date,
        p.checked_on,
        {{ var('backtest_horizon_months') }} as horizon_months,
        p.in_orbit_at_cutoff,
        round(p.predicted_in_orbit::numeric)::integer as predicted_in_orbit,
        count(s.norad_id)::integer as actual_in_orbit,
        round(p.predicted_in_orbit::numeric)::integer - count(s.norad_id)::integer as error,
        round((100.0 * (p.predicted_in_orbit - count(s.norad_id)) / nullif(count(s.norad_id), 0))::numeric, 1)::float8
            as error_pct
    from predicted as p
    left join satellites as s
        on s.launch_date <= p.checked_on
       and (s.decayed_on is null or s.decayed_on > p.checked_on)
    group by p.scenario, p.cutoff_date, p.checked_on, p.in_orbit_at_cutoff, p.predicted_in_orbit

),

final as (

    -- a check date past the data's as-of date has no actual count yet
    select
        c.scenario,
        c.cutoff_date,
        c.checked_on,
        c.horizon_months,
        c.in_orbit_at_cutoff,
        c.predicted_in_orbit,
        case when c.checked_on <= a.as_of_date then c.actual_in_orbit end as actual_in_orbit,
        case when c.checked_on <= a.as_of_date then c.error end as error,
        case when c.checked_on <= a.as_of_date then c.error_pct end as error_pct
    from compared as c
    cross join as_of as a

)

select * from final
