{#- How good each scenario's forecast was, per horizon, over the rolling backtest's origins, beside
    the naive baseline (no growth: the origin's count), and the interval the 42,000 month gets:
    the percentiles of the growth ratio (var backtest_interval_percentiles, e.g. 10th-90th: the
    interval claims 80%), where at least backtest_min_origins origins have one.
      coverage                the share of origins whose actual lies in the interval built from all
                              of them (in sample: near the claimed share by construction);
      coverage_out_of_sample  the share whose actual lies in the interval built only from the
                              origins already checked by then (as it would have been stated at the
                              time), over the origins with at least backtest_min_origins of those.
    The out-of-sample pairing is a self-join per scenario and horizon: its size grows with the
    square of the origins (a few thousand rows), not with the catalogue. -#}
{%- set low, high = var('backtest_interval_percentiles') | map('float') | list -%}
{%- if not (0 <= low < high <= 100) -%}
    {{ exceptions.raise_compiler_error("var backtest_interval_percentiles must be two percentiles, low < high, got "
        ~ var('backtest_interval_percentiles')) }}
{%- endif -%}
{%- set min_origins = var('backtest_min_origins') | int %}
with

rolling as (

    select * from {{ ref('fct_forecast_backtest') }} where fit = 'backtest'

),

errors as (

    select
        scenario,
        horizon_months,
        count(*) as origins,
        min(origin_date) as first_origin,
        max(origin_date) as last_origin,
        avg(abs(error_pct)) as mean_abs_error_pct,
        avg(error_pct) as mean_error_pct,
        count(growth_ratio) as growth_ratios,
        percentile_cont({{ low / 100 }}) within group (order by growth_ratio) as growth_ratio_low,
        percentile_cont({{ high / 100 }}) within group (order by growth_ratio) as growth_ratio_high
    from rolling
    group by scenario, horizon_months

),

intervals as (

    select * from errors where growth_ratios >= {{ min_origins }}

),

in_sample as (

    select
        r.scenario,
        r.horizon_months,
        avg((r.growth_ratio between i.growth_ratio_low and i.growth_ratio_high)::integer) as coverage
    from rolling as r
    inner join intervals as i using (scenario, horizon_months)
    where r.growth_ratio is not null
    group by r.scenario, r.horizon_months

),

known_then as (

    -- each origin's interval from the origins checked on or before it
    select
        r.scenario,
        r.horizon_months,
        r.origin_date,
        r.growth_ratio,
        count(k.growth_ratio) as known,
        percentile_cont({{ low / 100 }}) within group (order by k.growth_ratio) as growth_ratio_low,
        percentile_cont({{ high / 100 }}) within group (order by k.growth_ratio) as growth_ratio_high
    from rolling as r
    inner join rolling as k
        on k.scenario = r.scenario
       and k.horizon_months = r.horizon_months
       and k.checked_on <= r.origin_date
    where r.growth_ratio is not null
    group by r.scenario, r.horizon_months, r.origin_date, r.growth_ratio

),

out_of_sample as (

    select
        scenario,
        horizon_months,
        count(*) as origins_out_of_sample,
        avg((growth_ratio between growth_ratio_low and growth_ratio_high)::integer) as coverage_out_of_sample
    from known_then
    where known >= {{ min_origins }}
    group by scenario, horizon_months

),

naive as (

    select horizon_months, mean_abs_error_pct from errors where scenario = 'naive'

),

final as (

    select
        e.scenario,
        e.horizon_months,
        e.origins,
        e.first_origin,
        e.last_origin,
        round(e.mean_abs_error_pct::numeric, 2)::float8 as mean_abs_error_pct,
        round(e.mean_error_pct::numeric, 2)::float8 as mean_error_pct,
        -- 1 - error / naive error: above 0, the scenario beats the naive baseline
        round((1 - e.mean_abs_error_pct / nullif(n.mean_abs_error_pct, 0))::numeric, 3)::float8 as skill_vs_naive,
        {{ low }}::float8 as interval_low_percentile,
        {{ high }}::float8 as interval_high_percentile,
        round(i.growth_ratio_low::numeric, 4)::float8 as growth_ratio_low,
        round(i.growth_ratio_high::numeric, 4)::float8 as growth_ratio_high,
        e.growth_ratios,
        round(s.coverage::numeric, 3)::float8 as coverage,
        o.origins_out_of_sample,
        round(o.coverage_out_of_sample::numeric, 3)::float8 as coverage_out_of_sample
    from errors as e
    left join naive as n using (horizon_months)
    left join intervals as i using (scenario, horizon_months)
    left join in_sample as s using (scenario, horizon_months)
    left join out_of_sample as o using (scenario, horizon_months)

)

select * from final
