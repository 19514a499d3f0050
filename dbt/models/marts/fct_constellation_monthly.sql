{#- Monthly history from the first Starlink launch (or satellite) to the as-of month. The as-of month is measured
    on the as-of date. Rebuilt each run from one snapshot (tens of thousands of rows): decay dates
    arrive after the fact and change past months, so an append-only history would be wrong. -#}
with

satellites as (

    select * from {{ ref('fct_starlink_satellites') }}

),

launches as (

    select * from {{ ref('dim_launches') }} where is_starlink and has_happened

),

as_of as (

    select as_of_date from {{ ref('int_sources__as_of') }} where is_forecast_source

),

months as (

    select generate_series(
        date_trunc('month', least(
            (select min(launch_date) from launches),
            (select min(launch_date) from satellites)
        )),
        (select date_trunc('month', as_of_date) from as_of),
        interval '1 month'
    )::date as month_start

),

launched as (

    select date_trunc('month', launch_date)::date as month_start, count(*) as satellites_launched
    from satellites
    where launch_date <= (select as_of_date from as_of)
    group by 1

),

decayed as (

    select date_trunc('month', decayed_on)::date as month_start, count(*) as satellites_decayed
    from satellites
    where decayed_on <= (select as_of_date from as_of)
    group by 1

),

flown as (

    select
        date_trunc('month', launch_date)::date as month_start,
        count(*) as starlink_launches,
        sum(satellites_carried) as satellites_on_launches
    from launches
    group by 1

),

monthly as (

    select
        m.month_start,
        least((m.month_start + interval '1 month - 1 day')::date, a.as_of_date) as measured_on,
        coalesce(f.starlink_launches, 0) as starlink_launches,
        coalesce(l.satellites_launched, 0) as satellites_launched,
        coalesce(d.satellites_decayed, 0) as satellites_decayed
    from months as m
    cross join as_of as a
    left join flown as f using (month_start)
    left join launched as l using (month_start)
    left join decayed as d using (month_start)

),

final as (

    select
        month_start,
        measured_on,
        starlink_launches,
        satellites_launched,
        satellites_decayed,
        sum(satellites_launched - satellites_decayed) over (order by month_start) as satellites_in_orbit,
        sum(starlink_launches) over (order by month_start) as cumulative_launches
    from monthly

)

select * from final
