{#- The answer: per scenario, when the constellation reaches the target and how many launches it
    takes from the as-of date: where the answer fit's projected path first reaches the target,
    interpolated within that month. A scenario whose net growth never gets there has nulls and
    reaches_target = false. -#}
with

parameters as (

    select * from {{ ref('int_forecast_parameters__fitted') }} where fit = 'answer'

),

path as (

    select * from {{ ref('int_forecast_paths__projected') }} where fit = 'answer'

),

first_reach as (

    -- the first month of the path at or above the target, and the in-orbit count a month before
    select distinct on (p.scenario)
        p.scenario,
        p.month_offset,
        p.launches_in_month,
        p.cumulative_launches,
        p.projected_in_orbit,
        i.target_satellites,
        p.projected_in_orbit - (i.satellites_per_launch * p.launches_in_month - i.decays_per_month)
            as previous_in_orbit
    from path as p
    inner join parameters as i using (scenario)
    where p.projected_in_orbit >= i.target_satellites
    order by p.scenario, p.month_offset

),

crossing as (

    -- interpolated within the month the path crosses the target: exact for a constant cadence
    -- (launches = gap / (satellites_per_launch - decays_per_month / launches_per_month))
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
    from first_reach

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
    from parameters as i
    left join crossing as c using (scenario)

)

select * from final
