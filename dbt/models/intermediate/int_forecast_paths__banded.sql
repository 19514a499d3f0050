{#- The answer's projected path per scenario, with the interval the backtest gives it: from the
    growth ratios it saw (actual growth / forecast growth, fct_forecast_backtest_accuracy),
        low(m), high(m) = in orbit now + (projected(m) - in orbit now) x ratio low, high (m)
    The count now is known; only the growth is forecast, so only the growth is scaled. The ratios
    are interpolated linearly between the backtest's horizons, the shortest one's before it and the
    longest one's after it: a linear forecast's growth error, relative to its growth, does not
    shrink with time, and the backtest cannot see further. Null without a backtest interval. -#}
with

path as (

    select
        *,
        first_value(projected_in_orbit) over (partition by scenario order by month_offset) as in_orbit_now
    from {{ ref('int_forecast_paths__projected') }}
    where fit = 'answer'

),

segments as (

    -- from each horizon with an interval to the next one
    select
        scenario,
        horizon_months as from_month,
        lead(horizon_months) over by_horizon as to_month,
        growth_ratio_low as low_from,
        lead(growth_ratio_low) over by_horizon as low_to,
        growth_ratio_high as high_from,
        lead(growth_ratio_high) over by_horizon as high_to,
        row_number() over by_horizon = 1 as is_first
    from {{ ref('fct_forecast_backtest_accuracy') }}
    where growth_ratio_low is not null
    window by_horizon as (partition by scenario order by horizon_months)

),

ratios as (

    select
        p.scenario,
        p.month_offset,
        case when s.to_month is null then s.low_from
             else s.low_from + (s.low_to - s.low_from)
                  * (greatest(p.month_offset, s.from_month) - s.from_month)::float8 / (s.to_month - s.from_month)
        end as ratio_low,
        case when s.to_month is null then s.high_from
             else s.high_from + (s.high_to - s.high_from)
                  * (greatest(p.month_offset, s.from_month) - s.from_month)::float8 / (s.to_month - s.from_month)
        end as ratio_high
    from path as p
    inner join segments as s
        on s.scenario = p.scenario
       and (p.month_offset >= s.from_month or s.is_first)
       and (p.month_offset < s.to_month or s.to_month is null)

),

final as (

    select
        p.scenario,
        p.month_offset,
        p.projected_on,
        p.launches_in_month,
        p.cumulative_launches,
        p.projected_in_orbit,
        r.ratio_low,
        r.ratio_high,
        -- a shrinking path swaps which ratio gives the lower line
        p.in_orbit_now + least((p.projected_in_orbit - p.in_orbit_now) * r.ratio_low,
                               (p.projected_in_orbit - p.in_orbit_now) * r.ratio_high) as low_in_orbit,
        p.in_orbit_now + greatest((p.projected_in_orbit - p.in_orbit_now) * r.ratio_low,
                                  (p.projected_in_orbit - p.in_orbit_now) * r.ratio_high) as high_in_orbit
    from path as p
    left join ratios as r using (scenario, month_offset)

)

select * from final
