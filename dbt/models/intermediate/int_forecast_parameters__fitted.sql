{#- The forecast's parameters, one row per fit and scenario. A fit is the forecast method run as of
    one date, from what had happened by then (launches flown, satellites launched or decayed on or
    before it: int_constellation__counted_by_day):
      answer    as of the as-of date: the forecast the report gives;
      backtest  as of each month end from the shortest backtest horizon to backtest_origin_months
                before it (the rolling-origin backtest) with a full cadence window of launches
                behind it;
      cutoff    as of var backtest_cutoff when set and not after the as-of date (`backtest --cutoff`;
                'horizon': backtest_horizon_months before the as-of date, `backtest --horizon`).
    Windows are rolling months ending on the fit's date (r = 0 is the latest), so no partial
    calendar month biases a rate, and a backtest fit is the answer a run for its date would give.
    SATELLITES_PER_LAUNCH and DECAYS_PER_MONTH, when set, replace the measured values in every fit. -#}
{%- set cadence = cadence_window_months() -%}
{%- set trend = trend_window_months() -%}
{%- set satellites_per_launch = satellites_per_launch_setting() -%}
{%- set decays_per_month = decays_per_month_setting() %}
with

as_of as (

    select as_of_date from {{ ref('int_sources__as_of') }} where is_forecast_source

),

fits as (

    select 'answer' as fit, as_of_date from as_of

    union all

    select 'backtest' as fit, (a.as_of_date - make_interval(months => k))::date as as_of_date
    from as_of as a
    -- the origins the data can check: from the shortest horizon before the as-of date
    cross join generate_series({{ backtest_horizons() | min }}, {{ var('backtest_origin_months') }}) as k

    {%- set cutoff = var('backtest_cutoff', none) %}
    {%- if cutoff %}

    union all

    select 'cutoff' as fit, cutoff_date as as_of_date
    from as_of
    cross join lateral (
        select {% if cutoff == 'horizon' -%}
            (as_of_date - make_interval(months => {{ var('backtest_horizon_months') | int }}))::date
        {%- else -%}
            '{{ cutoff }}'::date
        {%- endif %} as cutoff_date
    ) as c
    where cutoff_date <= as_of_date
    {%- endif %}

),

boundaries as (

    -- boundary r of a fit is r months before its date; window r runs from boundary r + 1 to r
    select f.fit, f.as_of_date, b.r, (f.as_of_date - make_interval(months => b.r))::date as on_date
    from fits as f
    cross join generate_series(0, {{ [cadence, trend] | max }}) as b (r)

),

counted as (

    select
        b.fit,
        b.as_of_date,
        b.r,
        -- a date before the first launch has no row: nothing had happened yet
        coalesce(c.satellites_in_orbit, 0) as satellites_in_orbit,
        coalesce(c.satellites_decayed_to_date, 0) as decayed_to_date,
        coalesce(c.starlink_launches_to_date, 0) as launches_to_date,
        coalesce(c.satellites_carried_to_date, 0) as carried_to_date
    from boundaries as b
    left join {{ ref('int_constellation__counted_by_day') }} as c
        on c.day = b.on_date

),

windows as (

    select
        *,
        launches_to_date - lead(launches_to_date) over by_boundary as launches,
        carried_to_date - lead(carried_to_date) over by_boundary as satellites
    from counted
    window by_boundary as (partition by fit, as_of_date order by r)

),

rates as (

    select
        fit,
        as_of_date,
        max(satellites_in_orbit) filter (where r = 0) as satellites_in_orbit,
        max(launches_to_date) filter (where r = 0) as launches_all_time,
        max(carried_to_date) filter (where r = 0) as satellites_all_time,
        max(launches_to_date) filter (where r = {{ cadence }}) as launches_before_window,
        sum(launches) filter (where r < {{ cadence }}) as launches_trailing,
        sum(satellites) filter (where r < {{ cadence }}) as satellites_trailing,
        max(decayed_to_date) filter (where r = 0)
            - max(decayed_to_date) filter (where r = {{ cadence }}) as decays_trailing,
        -- the trend is fitted only on windows ending after the first launch (no ramp of zeros)
        regr_intercept(launches, -r) filter (where r < {{ trend }} and launches_to_date > 0) as trend_intercept,
        regr_slope(launches, -r) filter (where r < {{ trend }} and launches_to_date > 0) as trend_slope
    from windows
    group by fit, as_of_date

),

measured as (

    select
        fit,
        as_of_date,
        satellites_in_orbit,
        launches_trailing::float8 / {{ cadence }} as launches_per_month,
        case
            when launches_trailing > 0 then satellites_trailing::float8 / launches_trailing
            when launches_all_time > 0 then satellites_all_time::float8 / launches_all_time
            else 0
        end as satellites_per_launch_measured,
        decays_trailing::float8 / {{ cadence }} as decays_per_month_measured,
        trend_intercept,
        trend_slope
    from rates
    -- a backtest origin needs a full cadence window of launch history behind it
    where fit <> 'backtest' or launches_before_window > 0

),

parameters as (

    select
        *,
        {{ satellites_per_launch if satellites_per_launch is not none else 'satellites_per_launch_measured' }}::float8
            as satellites_per_launch,
        {{ decays_per_month if decays_per_month is not none else 'decays_per_month_measured' }}::float8
            as decays_per_month
    from measured

),

{%- set assumed = [] -%}
{%- if satellites_per_launch is not none %}{% do assumed.append(satellites_per_launch ~ ' satellites per launch') %}{% endif -%}
{%- if decays_per_month is not none %}{% do assumed.append(decays_per_month ~ ' decays per month') %}{% endif -%}
{%- set assumed_text = ' (set: ' ~ assumed | join(', ') ~ ')' if assumed else '' %}

scenarios as (

    select
        fit,
        as_of_date,
        'constant_cadence' as scenario,
        'Launches per month, satellites per launch and decays per month of the last {{ cadence }} months, '
            || 'held constant{{ assumed_text }}' as scenario_description,
        satellites_in_orbit,
        launches_per_month,
        0::float8 as cadence_slope_per_month,
        satellites_per_launch,
        decays_per_month,
        satellites_per_launch_measured,
        decays_per_month_measured
    from parameters

    union all

    select
        fit,
        as_of_date,
        'trend_cadence' as scenario,
        'Launch cadence following its linear trend over the last {{ trend }} months; satellites per '
            || 'launch and decays as in the last {{ cadence }} months{{ assumed_text }}' as scenario_description,
        satellites_in_orbit,
        greatest(coalesce(trend_intercept, launches_per_month), 0) as launches_per_month,
        coalesce(trend_slope, 0) as cadence_slope_per_month,
        satellites_per_launch,
        decays_per_month,
        satellites_per_launch_measured,
        decays_per_month_measured
    from parameters

),

final as (

    select
        *,
        {{ target_satellites() }} as target_satellites
    from scenarios

)

select * from final
