{#- The answer's history over runs: one row per snapshot ds. Incremental, so a daily run adds or
    replaces only its own row and its cost stays flat however many snapshots the warehouse holds. -#}
{{ config(materialized='incremental', unique_key='snapshot_ds', incremental_strategy='delete+insert') }}

with

summary as (

    select * from {{ ref('fct_constellation_summary') }}

),

forecast as (

    select * from {{ ref('fct_starlink_forecast') }}

),

final as (

    select
        s.snapshot_ds,
        s.as_of_date,
        s.forecast_source,
        s.satellites_in_orbit,
        s.starlink_launches,
        s.launches_per_month_trailing,
        s.satellites_per_launch_trailing,
        max(f.reaches_target_month) filter (where f.scenario = 'constant_cadence')
            as constant_cadence_reaches_target_month,
        max(f.reaches_target_month) filter (where f.scenario = 'trend_cadence')
            as trend_cadence_reaches_target_month,
        now() as built_at
    from summary as s
    cross join forecast as f
    group by 1, 2, 3, 4, 5, 6, 7

)

select * from final
