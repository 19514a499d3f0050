{#- The forecast's parameters, one row per fit and scenario. Each fit uses only what had happened
    by its as-of date (launches flown and satellites launched or decayed on or before it):
      answer    as of the forecast source's as-of date: the forecast the report gives;
      backtest  as of the cut-off (var backtest_cutoff, default: the as-of date minus
                backtest_horizon_months), for comparing a forecast with what happened after it.
    Windows are rolling months ending on the fit's as-of date (r = 0 is the latest), so no partial
    calendar month biases a rate. -#}
with

source_as_of as (

    select as_of_date from {{ ref('int_sources__as_of') }} where is_forecast_source

),

fits as (

    select 'answer' as fit, as_of_date from source_as_of

    union all

    select
        'backtest' as fit,
        {%- if var('backtest_cutoff', none) %}
        '{{ var("backtest_cutoff") }}'::date as as_of_date
        {%- else %}
        (as_of_date - make_interval(months => {{ var('backtest_horizon_months') }}))::date as as_of_date
        {%- endif %}
    from source_as_of

),

satellites as (

    select * from {{ ref('fct_starlink_satellites') }}

),

launches as (

    select * from {{ ref('dim_launches') }} where is_starlink and not is_upcoming

),

state as (

    select
        f.fit,
        f.as_of_date,
        count(*) filter (
            where s.launch_date <= f.as_of_date
              and (s.decayed_on is null or s.decayed_on > f.as_of_date)
        ) as satellites_in_orbit,
        count(*) filter (
            where s.decayed_on > (f.as_of_date - make_interval(months => {{ var('trailing_months') }}))::date
              and s.decayed_on <= f.as_of_date
        ) as decays_trailing
    from fits as f
    cross join satellites as s
    group by f.fit, f.as_of_date

),

windows as (

    select
        f.fit,
        r,
        (f.as_of_date - make_interval(months => r + 1))::date as window_start,
        (f.as_of_date - make_interval(months => r))::date as window_end
    from fits as f
    cross join generate_series(0, greatest({{ var('trend_months') }}, {{ var('trailing_months') }}) - 1) as r

),

window_launches as (

    select
        w.fit,
        w.r,
        w.window_end,
        count(l.launch_id) as launches,
        coalesce(sum(l.satellites_carried), 0) as satellites
    from windows as w
    left join launches as l
        on l.launch_date > w.window_start
       and l.launch_date <= w.window_end
    group by w.fit, w.r, w.window_end

),

history as (

    select
        f.fit,
        count(l.launch_id) as launches_all_time,
        sum(l.satellites_carried) as satellites_all_time,
        min(l.launch_date) as first_launch_date
    from fits as f
    left join launches as l
        on l.launch_date <= f.as_of_date
    group by f.fit

),

rates as (

    select
        w.fit,
        sum(w.launches) filter (where w.r < {{ var('trailing_months') }}) as launches_trailing,
        sum(w.satellites) filter (where w.r < {{ var('trailing_months') }}) as satellites_trailing,
        -- the trend is fitted only on windows after the first launch (no ramp of zeros before it)
        regr_intercept(w.launches, -w.r) filter (
            where w.r < {{ var('trend_months') }} and w.window_end >= h.first_launch_date
        ) as trend_intercept,
        regr_slope(w.launches, -w.r) filter (
            where w.r < {{ var('trend_months') }} and w.window_end >= h.first_launch_date
        ) as trend_slope
    from window_launches as w
    inner join history as h using (fit)
    group by w.fit

),

parameters as (

    select
        s.fit,
        s.as_of_date,
        s.satellites_in_orbit,
        r.launches_trailing::float8 / {{ var('trailing_months') }} as launches_per_month,
        case
            when r.launches_trailing > 0 then r.satellites_trailing::float8 / r.launches_trailing
            when h.launches_all_time > 0 then h.satellites_all_time::float8 / h.launches_all_time
            else 0
        end as satellites_per_launch,
        s.decays_trailing::float8 / {{ var('trailing_months') }} as decays_per_month,
        r.trend_intercept,
        r.trend_slope
    from state as s
    inner join rates as r using (fit)
    inner join history as h using (fit)

),

scenarios as (

    select
        fit,
        'constant_cadence' as scenario,
        'Launches per month, satellites per launch and decays per month of the last '
            || {{ var('trailing_months') }} || ' months, held constant' as scenario_description,
        as_of_date,
        satellites_in_orbit,
        launches_per_month,
        0::float8 as cadence_slope_per_month,
        satellites_per_launch,
        decays_per_month
    from parameters

    union all

    select
        fit,
        'trend_cadence' as scenario,
        'Launch cadence following its linear trend over the last ' || {{ var('trend_months') }}
            || ' months; satellites per launch and decays as in the last '
            || {{ var('trailing_months') }} || ' months' as scenario_description,
        as_of_date,
        satellites_in_orbit,
        greatest(coalesce(trend_intercept, launches_per_month), 0) as launches_per_month,
        coalesce(trend_slope, 0) as cadence_slope_per_month,
        satellites_per_launch,
        decays_per_month
    from parameters

),

final as (

    select
        *,
        {{ target_satellites() }} as target_satellites
    from scenarios

)

select * from final
