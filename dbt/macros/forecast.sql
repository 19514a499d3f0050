{#- The forecast, written once and used twice: for the answer (as of the data's as-of date) and for
    the backtest (as of an earlier cut-off).

    forecast_inputs(as_of_sql): one row per scenario with the projection's parameters, computed
    only from what had happened by as_of_sql (launches flown and satellites launched/decayed on or
    before it). Windows are rolling months ending on the as-of date (r = 0 is the latest), so no
    partial calendar month biases a rate.

    forecast_path(inputs): month by month from the as-of date, for each scenario:
        launches(m)  = max(0, launches_per_month + cadence_slope_per_month * m)
        in_orbit(m)  = satellites_in_orbit + satellites_per_launch * sum(launches(1..m))
                       - decays_per_month * m
    (decays are losses that launches must replace). -#}

{% macro forecast_inputs(as_of_sql) %}
with

as_of as (

    select ({{ as_of_sql }})::date as as_of_date

),

satellites as (

    select * from {{ ref('fct_starlink_satellites') }}

),

launches as (

    select * from {{ ref('dim_launches') }} where is_starlink and not is_upcoming

),

state as (

    select
        a.as_of_date,
        count(*) filter (
            where s.launch_date <= a.as_of_date
              and (s.decayed_on is null or s.decayed_on > a.as_of_date)
        ) as satellites_in_orbit,
        count(*) filter (
            where s.decayed_on > (a.as_of_date - make_interval(months => {{ var('trailing_months') }}))::date
              and s.decayed_on <= a.as_of_date
        ) as decays_trailing
    from as_of as a
    cross join satellites as s
    group by a.as_of_date

),

windows as (

    select
        r,
        (a.as_of_date - make_interval(months => r + 1))::date as window_start,
        (a.as_of_date - make_interval(months => r))::date as window_end
    from as_of as a
    cross join generate_series(0, greatest({{ var('trend_months') }}, {{ var('trailing_months') }}) - 1) as r

),

window_launches as (

    select
        w.r,
        w.window_end,
        count(l.launch_id) as launches,
        coalesce(sum(l.satellites_carried), 0) as satellites
    from windows as w
    left join launches as l
        on l.launch_date > w.window_start
       and l.launch_date <= w.window_end
    group by w.r, w.window_end

),

history as (

    select
        count(*) as launches_all_time,
        sum(satellites_carried) as satellites_all_time,
        min(launch_date) as first_launch_date
    from launches
    where launch_date <= (select as_of_date from as_of)

),

rates as (

    select
        sum(launches) filter (where r < {{ var('trailing_months') }}) as launches_trailing,
        sum(satellites) filter (where r < {{ var('trailing_months') }}) as satellites_trailing,
        -- the trend is fitted only on windows after the first launch (no ramp of zeros before it)
        regr_intercept(launches, -r) filter (
            where r < {{ var('trend_months') }} and window_end >= (select first_launch_date from history)
        ) as trend_intercept,
        regr_slope(launches, -r) filter (
            where r < {{ var('trend_months') }} and window_end >= (select first_launch_date from history)
        ) as trend_slope
    from window_launches

),

parameters as (

    select
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
    cross join rates as r
    cross join history as h

)

select
    'constant_cadence' as scenario,
    'Launches per month, satellites per launch and decays per month of the last '
        || {{ var('trailing_months') }} || ' months, held constant' as scenario_description,
    as_of_date,
    satellites_in_orbit,
    launches_per_month,
    0::float8 as cadence_slope_per_month,
    satellites_per_launch,
    decays_per_month,
    {{ target_satellites() }} as target_satellites
from parameters

union all

select
    'trend_cadence' as scenario,
    'Launch cadence following its linear trend over the last ' || {{ var('trend_months') }}
        || ' months; satellites per launch and decays as in the last '
        || {{ var('trailing_months') }} || ' months' as scenario_description,
    as_of_date,
    satellites_in_orbit,
    greatest(coalesce(trend_intercept, launches_per_month), 0) as launches_per_month,
    coalesce(trend_slope, 0) as cadence_slope_per_month,
    satellites_per_launch,
    decays_per_month,
    {{ target_satellites() }} as target_satellites
from parameters
{% endmacro %}


{% macro forecast_path(inputs) %}
with

fp_inputs as (

    select * from {{ inputs }}

),

fp_months as (

    select
        i.*,
        m.month_offset,
        case when m.month_offset = 0 then 0
             else greatest(i.launches_per_month + i.cadence_slope_per_month * m.month_offset, 0)
        end as launches_in_month
    from fp_inputs as i
    cross join generate_series(0, {{ var('forecast_max_months') }}) as m (month_offset)

),

fp_path as (

    select
        *,
        sum(launches_in_month) over by_month as cumulative_launches,
        satellites_in_orbit
            + satellites_per_launch * sum(launches_in_month) over by_month
            - decays_per_month * month_offset as projected_in_orbit
    from fp_months
    window by_month as (partition by scenario order by month_offset)

)

select * from fp_path
{% endmacro %}


{#- Where a path first reaches the target, interpolated within the month it crosses it:
    months_needed and launches_needed are exact for a constant cadence
    (launches = gap / (satellites_per_launch - decays_per_month / launches_per_month)). -#}
{% macro forecast_crossing(path) %}
with

fc_path as (

    select * from {{ path }}

),

fc_first_reach as (

    select distinct on (scenario)
        scenario,
        month_offset,
        launches_in_month,
        cumulative_launches,
        projected_in_orbit,
        target_satellites,
        projected_in_orbit - (satellites_per_launch * launches_in_month - decays_per_month)
            as previous_in_orbit
    from fc_path
    where projected_in_orbit >= target_satellites
    order by scenario, month_offset

),

fc_crossing as (

    select
        scenario,
        case
            when month_offset = 0 then 0
            else month_offset - 1
                + (target_satellites - previous_in_orbit) / (projected_in_orbit - previous_in_orbit)
        end as months_needed_exact,
        case
            when month_offset = 0 then 0
            else cumulative_launches - launches_in_month
                + launches_in_month
                  * (target_satellites - previous_in_orbit) / (projected_in_orbit - previous_in_orbit)
        end as launches_needed_exact
    from fc_first_reach

)

select * from fc_crossing
{% endmacro %}
