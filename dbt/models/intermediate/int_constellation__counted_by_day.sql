{#- The constellation day by day, as the records tell it: one row per day from the first Starlink
    launch (or satellite) to the as-of date, with what happened that day and the running totals.
    In orbit on a day = launched on or before it and not decayed by it (fct_starlink_satellites'
    decayed_on; a decay the records date before the launch takes it out from its launch). The
    forecast's fits and the backtest read their counts here by date: one pass over the satellites,
    whatever the number of dates they ask about. -#}
with

satellites as (

    select * from {{ ref('fct_starlink_satellites') }}

),

launches as (

    select * from {{ ref('dim_launches') }} where is_starlink and not is_upcoming

),

as_of as (

    select as_of_date from {{ ref('int_sources__as_of') }} where is_forecast_source

),

events as (

    select e.*
    from satellites as s
    cross join lateral (
        values
            (s.launch_date, 1, 0, 0, 0, 0),
            (s.decayed_on, 0, 1, 0, 0, 0),
            -- greatest() skips a null: only a decayed satellite leaves
            (case when s.decayed_on is not null then greatest(s.launch_date, s.decayed_on) end, 0, 0, 1, 0, 0)
    ) as e (day, launched, decayed, left_orbit, starlink_launches, satellites_carried)
    where e.day is not null

    union all

    select launch_date, 0, 0, 0, 1, satellites_carried from launches

),

per_day as (

    select
        day,
        sum(launched) as satellites_launched,
        sum(decayed) as satellites_decayed,
        sum(left_orbit) as satellites_left_orbit,
        sum(starlink_launches) as starlink_launches,
        sum(satellites_carried) as satellites_carried
    from events
    group by day

),

days as (

    -- none when the as-of date is before the first launch: every count is then 0
    select generate_series(
        (select min(day) from per_day),
        (select as_of_date from as_of),
        interval '1 day'
    )::date as day

),

final as (

    select
        d.day,
        coalesce(p.starlink_launches, 0)::integer as starlink_launches,
        coalesce(p.satellites_launched, 0)::integer as satellites_launched,
        coalesce(p.satellites_decayed, 0)::integer as satellites_decayed,
        (sum(coalesce(p.starlink_launches, 0)) over to_date)::bigint as starlink_launches_to_date,
        (sum(coalesce(p.satellites_carried, 0)) over to_date)::bigint as satellites_carried_to_date,
        (sum(coalesce(p.satellites_launched, 0)) over to_date)::bigint as satellites_launched_to_date,
        (sum(coalesce(p.satellites_decayed, 0)) over to_date)::bigint as satellites_decayed_to_date,
        (sum(coalesce(p.satellites_launched, 0) - coalesce(p.satellites_left_orbit, 0)) over to_date)::bigint
            as satellites_in_orbit
    from days as d
    left join per_day as p using (day)
    window to_date as (order by d.day)

)

select * from final
