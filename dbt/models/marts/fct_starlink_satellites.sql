{#- Factless fact: one row per Starlink satellite the records list, with its launch and its state on
    the as-of date (a past ds: satellites launched later are listed, not in orbit). -#}
with

satellites as (

    select * from {{ ref('int_satellites__assigned_to_launches') }}

),

launches as (

    select * from {{ ref('dim_launches') }}

),

as_of as (

    select as_of_date, data_as_of_date from {{ ref('int_sources__as_of') }} where is_forecast_source

),

final as (

    select
        -- keys
        s.norad_id,
        s.launch_id,
        s.spacex_satellite_id,
        s.cospar_id,
        s.object_name,
        s.version,
        s.launch_assignment,

        -- dates
        coalesce(s.launch_date, l.launch_date) as launch_date,
        s.decay_date,
        -- decayed on an unknown date: counted as decayed from the records' newest date on (when
        -- they say so), so a past ds still counts it in orbit
        case when s.is_decayed then coalesce(s.decay_date, a.data_as_of_date) end as decayed_on,
        a.as_of_date,

        -- state on the as-of date: launched by then and not decayed by then
        s.is_decayed,
        coalesce(s.launch_date, l.launch_date) <= a.as_of_date
            and not (s.is_decayed and coalesce(s.decay_date, a.data_as_of_date) <= a.as_of_date)
            as is_in_orbit,

        s.in_spacex_api,
        s.in_satcat
    from satellites as s
    left join launches as l using (launch_id)
    cross join as_of as a

)

select * from final
