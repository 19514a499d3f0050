-- The in-orbit count is the same in the fact, the monthly history's last month and the summary.
with

fact as (select count(*) as n from {{ ref('fct_starlink_satellites') }} where is_in_orbit),
monthly as (
    select satellites_in_orbit as n from {{ ref('fct_constellation_monthly') }}
    order by month_start desc limit 1
),
summary as (select satellites_in_orbit as n from {{ ref('fct_constellation_summary') }})

select fact.n as fact, monthly.n as monthly, summary.n as summary
from fact cross join monthly cross join summary
where not (fact.n = monthly.n and monthly.n = summary.n)
