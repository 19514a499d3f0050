{#- The two sources side by side, per launch month up to the SpaceX API's as-of month: satellites
    each lists, both list, and only one lists (matched by NORAD number). -#}
with

satellites as (

    select * from {{ ref('int_satellites__reconciled') }}

),

spacex_end as (

    select as_of_date from {{ ref('int_sources__as_of') }} where source_name = 'spacex_api'

),

final as (

    select
        date_trunc('month', s.launch_date)::date as launch_month,
        count(*) filter (where s.in_spacex_api) as satellites_in_spacex_api,
        count(*) filter (where s.in_satcat) as satellites_in_satcat,
        count(*) filter (where s.in_spacex_api and s.in_satcat) as satellites_in_both,
        count(*) filter (where s.in_spacex_api and not s.in_satcat) as satellites_only_in_spacex_api,
        count(*) filter (where s.in_satcat and not s.in_spacex_api) as satellites_only_in_satcat,
        count(*) filter (where s.in_spacex_api and s.in_satcat and s.is_decayed)
            as decayed_per_freshest_source
    from satellites as s
    cross join spacex_end as e
    where s.launch_date <= e.as_of_date
    group by 1

)

select * from final
