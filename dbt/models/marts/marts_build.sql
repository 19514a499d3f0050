{#- Which ds the marts were built for, from which snapshot of each dataset, and when: one row,
    built after every other mart (the depends_on lines: every mart must be listed, which
    tests/test_publish.py checks) and emptied first by a build (macros/marts_build.sql), so it
    is there only when a whole build finished (or a partial one for its ds). `report` refuses a ds the marts were not built for,
    or built from a snapshot that is no longer the one published for it (src/starlink42k/publish.py). -#}
-- depends_on: {{ ref('dim_data_sources') }}
-- depends_on: {{ ref('dim_launches') }}
-- depends_on: {{ ref('fct_constellation_daily') }}
-- depends_on: {{ ref('fct_constellation_monthly') }}
-- depends_on: {{ ref('fct_constellation_summary') }}
-- depends_on: {{ ref('fct_forecast_backtest') }}
-- depends_on: {{ ref('fct_forecast_backtest_accuracy') }}
-- depends_on: {{ ref('fct_source_reconciliation') }}
-- depends_on: {{ ref('fct_starlink_forecast') }}
-- depends_on: {{ ref('fct_starlink_forecast_path') }}
-- depends_on: {{ ref('fct_starlink_satellites') }}
with

loads as (

    select * from {{ ref('stg_pipeline__load_log') }}

),

-- the snapshot each staging model read: the newest published on or before ds
snapshots_read as (

    select 'launches' as dataset, {{ snapshot_ds('launches') }} as snapshot_ds
    union all
    select 'starlink', {{ snapshot_ds('starlink') }}
    {%- if use_satcat() %}
    union all
    select 'satcat', {{ snapshot_ds('satcat') }}
    {%- endif %}

),

final as (

    select
        {% if var('ds', none) %}'{{ var("ds") }}'::date{% else %}null::date{% endif %} as built_for_ds,
        jsonb_object_agg(
            r.dataset, jsonb_build_object('snapshot_ds', r.snapshot_ds, 'loaded_at', l.loaded_at)
        ) as snapshots,
        now() as built_at
    from snapshots_read as r
    left join loads as l
        on l.dataset = r.dataset
       and l.snapshot_ds = r.snapshot_ds

)

select * from final
