{#- The answer: per scenario, when the constellation reaches the target and how many launches it
    takes from the as-of date: where the answer fit's projected path first reaches the target,
    interpolated within that month; and the interval of that month, where the backtest band's high
    line (earliest) and low line (latest) reach it (int_forecast_paths__banded). A scenario whose
    net growth never gets there has nulls and reaches_target = false.
    The headline scenario is the one with the lowest backtest error: the mean, over the backtest's
    horizons, of its mean absolute % error (each horizon weighs the same, however many origins it
    has); without a backtest, constant_cadence. -#}
with

parameters as (

    select * from {{ ref('int_forecast_parameters__fitted') }} where fit = 'answer'

),

path as (

    select * from {{ ref('int_forecast_paths__banded') }}

),

lines as (

    select scenario, 'central' as line, month_offset, launches_in_month, cumulative_launches,
           projected_in_orbit as in_orbit
    from path

    union all

    select scenario, 'earliest' as line, month_offset, null, null, high_in_orbit
    from path
    where high_in_orbit is not null

    union all

    select scenario, 'latest' as line, month_offset, null, null, low_in_orbit
    from path
    where low_in_orbit is not null

),

stepped as (

    select
        *,
        lag(in_orbit) over (partition by scenario, line order by month_offset) as previous_in_orbit
    from lines

),

first_reach as (

    -- each line's first month at or above the target
    select distinct on (s.scenario, s.line)
        s.*,
        i.target_satellites
    from stepped as s
    inner join parameters as i using (scenario)
    where s.in_orbit >= i.target_satellites
    order by s.scenario, s.line, s.month_offset

),

crossing as (

    -- interpolated within the month the line crosses the target: exact for a constant cadence
    -- (launches = gap / (satellites_per_launch - decays_per_month / launches_per_month))
    select
        scenario,
        line,
        case
            when month_offset = 0 then 0
            else month_offset - 1
                + (target_satellites - previous_in_orbit) / (in_orbit - previous_in_orbit)
        end as months_needed_exact,
        case
            when month_offset = 0 then 0
            else cumulative_launches - launches_in_month
                + launches_in_month
                  * (target_satellites - previous_in_orbit) / (in_orbit - previous_in_orbit)
        end as launches_needed_exact
    from first_reach

),

backtest as (

    select
        scenario,
        avg(mean_abs_error_pct) as backtest_mean_abs_error_pct
    from {{ ref('fct_forecast_backtest_accuracy') }}
    group by scenario

),

has_interval as (

    select distinct scenario from path where low_in_orbit is not null

),

final as (

    select
        i.scenario,
        i.scenario_description,
        i.as_of_date,
        i.target_satellites,
        i.satellites_in_orbit,
        round(i.launches_per_month::numeric, 3)::float8 as launches_per_month,
        round(i.cadence_slope_per_month::numeric, 4)::float8 as cadence_slope_per_month,
        round(i.satellites_per_launch::numeric, 2)::float8 as satellites_per_launch,
        round(i.decays_per_month::numeric, 2)::float8 as decays_per_month,
        c.months_needed_exact is not null as reaches_target,
        round(c.months_needed_exact::numeric, 2)::float8 as months_needed,
        -- rounding first keeps float noise (863.0000001) from adding a launch
        ceil(round(c.launches_needed_exact::numeric, 6))::integer as launches_needed,
        (i.as_of_date + round(c.months_needed_exact * 30.436875)::integer) as reaches_target_on,
        date_trunc('month', i.as_of_date + round(c.months_needed_exact * 30.436875)::integer)::date
            as reaches_target_month,
        h.scenario is not null as has_interval,
        round(e.months_needed_exact::numeric, 2)::float8 as earliest_months_needed,
        date_trunc('month', i.as_of_date + round(e.months_needed_exact * 30.436875)::integer)::date
            as reaches_target_earliest_month,
        round(l.months_needed_exact::numeric, 2)::float8 as latest_months_needed,
        date_trunc('month', i.as_of_date + round(l.months_needed_exact * 30.436875)::integer)::date
            as reaches_target_latest_month,
        round(b.backtest_mean_abs_error_pct::numeric, 2)::float8 as backtest_mean_abs_error_pct,
        row_number() over (order by b.backtest_mean_abs_error_pct nulls last, i.scenario) = 1 as is_headline,
        -- the assumptions, as this build read them (dbt_project.yml's vars)
        {{ cadence_window_months() }} as cadence_window_months,
        {{ trend_window_months() }} as trend_window_months,
        {{ satellites_per_launch_setting() is not none }} as satellites_per_launch_is_set,
        {{ decays_per_month_setting() is not none }} as decays_per_month_is_set
    from parameters as i
    left join crossing as c on c.scenario = i.scenario and c.line = 'central'
    left join crossing as e on e.scenario = i.scenario and e.line = 'earliest'
    left join crossing as l on l.scenario = i.scenario and l.line = 'latest'
    left join has_interval as h on h.scenario = i.scenario
    left join backtest as b on b.scenario = i.scenario

)

select * from final
