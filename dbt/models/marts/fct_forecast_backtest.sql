{#- The rolling-origin backtest: each backtest fit's forecast (every scenario, and a naive baseline
    that holds the origin's count) at each of backtest_horizons months, against the satellites in
    orbit the data shows on that date. Only pairs the data can check (on or before the as-of date)
    are kept; the cut-off fit of `starlink42k backtest --cutoff` is kept either way, with a null
    actual past the as-of date. Decay dates recorded after an origin are used for both sides, so the
    error measures the method, not late reporting.
    growth_ratio = actual growth since the origin / forecast growth (null when the forecast does not
    grow): what the 42,000 month's interval is made of (fct_forecast_backtest_accuracy). -#}
with

as_of as (

    select as_of_date from {{ ref('int_sources__as_of') }} where is_forecast_source

),

origins as (

    select distinct fit, as_of_date, satellites_in_orbit
    from {{ ref('int_forecast_parameters__fitted') }}
    where fit in ('backtest', 'cutoff')

),

horizons as (

    select
        o.*,
        h.horizon_months
    from origins as o
    cross join unnest(
        case when o.fit = 'backtest'
             then array[{{ backtest_horizons() | join(', ') }}]
             else array[{{ var('backtest_horizon_months') | int }}]
        end
    ) as h (horizon_months)

),

pairs as (

    select
        fit,
        as_of_date as origin_date,
        horizon_months,
        (as_of_date + make_interval(months => horizon_months))::date as checked_on,
        satellites_in_orbit as in_orbit_at_origin
    from horizons

),

forecasts as (

    select
        pr.*,
        p.scenario,
        p.projected_in_orbit as predicted_in_orbit
    from pairs as pr
    inner join {{ ref('int_forecast_paths__projected') }} as p
        on p.fit = pr.fit
       and p.as_of_date = pr.origin_date
       and p.month_offset = pr.horizon_months

    union all

    select
        pr.*,
        'naive' as scenario,
        pr.in_orbit_at_origin::float8 as predicted_in_orbit
    from pairs as pr

),

compared as (

    select
        f.*,
        -- a check date past the as-of date has no actual yet; one before the first launch, 0
        case when f.checked_on <= a.as_of_date then coalesce(c.satellites_in_orbit, 0) end as actual_in_orbit
    from forecasts as f
    cross join as_of as a
    left join {{ ref('int_constellation__counted_by_day') }} as c
        on c.day = f.checked_on
    where f.fit = 'cutoff' or f.checked_on <= a.as_of_date

),

final as (

    select
        fit,
        origin_date,
        scenario,
        horizon_months,
        checked_on,
        in_orbit_at_origin,
        round(predicted_in_orbit::numeric, 1)::float8 as predicted_in_orbit,
        actual_in_orbit,
        round((predicted_in_orbit - actual_in_orbit)::numeric, 1)::float8 as error,
        round((100 * (predicted_in_orbit - actual_in_orbit) / nullif(actual_in_orbit, 0))::numeric, 2)::float8
            as error_pct,
        case when predicted_in_orbit > in_orbit_at_origin then
            round(((actual_in_orbit - in_orbit_at_origin) / (predicted_in_orbit - in_orbit_at_origin))::numeric, 4)::float8
        end as growth_ratio
    from compared

)

select * from final
