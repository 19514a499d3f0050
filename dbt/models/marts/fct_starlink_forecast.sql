{#- The answer: per scenario, when the constellation reaches the target and how many launches it
    takes from the as-of date. A scenario whose net growth never gets there has nulls and
    reaches_target = false. -#}
with

inputs as (

    select * from {{ ref('int_forecast_inputs') }}

),

path as (

    {{ forecast_path("inputs") }}

),

crossing as (

    {{ forecast_crossing("path") }}

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
            as reaches_target_month
    from inputs as i
    left join crossing as c using (scenario)

)

select * from final
