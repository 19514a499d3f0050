{#- The answer's history over runs: one row per run ds, as of that ds (a backfill over a range
    reconstructs the series from the records). Incremental, so a daily run adds or replaces only its
    own row and its cost stays flat however many runs the warehouse holds. -#}
{{ config(
    materialized='incremental',
    unique_key='ds',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=[
        "delete from {{ this }} where ds is null and snapshot_ds in (select ds from {{ this }})",
        "update {{ this }} set ds = snapshot_ds where ds is null",
    ],
) }}
{#- The post-hooks move rows written before the ds column (one per snapshot, by that snapshot's own
    run) onto it; on a table that has it they change nothing. -#}

with

summary as (

    select * from {{ ref('fct_constellation_summary') }}

),

forecast as (

    select * from {{ ref('fct_starlink_forecast') }}

),

final as (

    select
        coalesce({{ run_ds() }}, s.snapshot_ds) as ds,
        s.snapshot_ds,
        s.as_of_date,
        s.data_as_of_date,
        s.forecast_source,
        s.satellites_in_orbit,
        s.starlink_launches,
        s.launches_per_month_trailing,
        s.satellites_per_launch_trailing,
        max(f.reaches_target_month) filter (where f.scenario = 'constant_cadence')
            as constant_cadence_reaches_target_month,
        max(f.reaches_target_month) filter (where f.scenario = 'trend_cadence')
            as trend_cadence_reaches_target_month,
        max(f.scenario) filter (where f.is_headline) as headline_scenario,
        max(f.reaches_target_earliest_month) filter (where f.is_headline) as headline_earliest_month,
        max(f.reaches_target_latest_month) filter (where f.is_headline) as headline_latest_month,
        now() as built_at
    from summary as s
    cross join forecast as f
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

)

select * from final
