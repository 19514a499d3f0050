{#- Monthly history from the first Starlink launch (or satellite) to the as-of month, from the
    day-by-day counts (int_constellation__counted_by_day): launches and satellites launched and
    decayed in the month, and the satellites in orbit on its last day (the as-of date in the as-of
    month). Rebuilt each run from one snapshot: decay dates arrive after the fact and change past
    months, so an append-only history would be wrong. -#}
with

days as (

    select * from {{ ref('int_constellation__counted_by_day') }}

),

final as (

    select
        date_trunc('month', day)::date as month_start,
        max(day) as measured_on,
        sum(starlink_launches) as starlink_launches,
        sum(satellites_launched) as satellites_launched,
        sum(satellites_decayed) as satellites_decayed,
        (array_agg(satellites_in_orbit order by day desc))[1] as satellites_in_orbit,
        (array_agg(starlink_launches_to_date order by day desc))[1] as cumulative_launches
    from days
    group by 1

)

select * from final
