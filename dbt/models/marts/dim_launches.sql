{#- Every launch: the SpaceX API's, plus launches known only from COSPAR designators (satellites
    the API did not link, or launches after the API stopped updating). -#}
with

api_launches as (

    select * from {{ ref('stg_spacex__launches') }}

),

satellites as (

    select * from {{ ref('int_satellites__assigned_to_launches') }}

),

as_of as (

    select as_of_date from {{ ref('int_sources__as_of') }} where is_forecast_source

),

carried as (

    select
        launch_id,
        count(*) as satellites_carried,
        min(launch_date) as first_satellite_launch_date
    from satellites
    where launch_id is not null
    group by launch_id

),

from_api as (

    select
        l.launch_id,
        l.flight_number,
        l.launch_name,
        l.launched_at,
        l.launch_date,
        l.date_precision,
        l.is_success,
        l.is_upcoming,
        'spacex_api' as launch_source,
        coalesce(c.satellites_carried, 0) as satellites_carried,
        l.is_starlink_named
    from api_launches as l
    left join carried as c using (launch_id)

),

from_cospar as (

    select
        c.launch_id,
        null::integer as flight_number,
        'Starlink (COSPAR ' || substring(c.launch_id from 8) || ')' as launch_name,
        c.first_satellite_launch_date::timestamptz as launched_at,
        c.first_satellite_launch_date as launch_date,
        'day' as date_precision,
        true as is_success,
        false as is_upcoming,
        'cospar' as launch_source,
        c.satellites_carried,
        true as is_starlink_named
    from carried as c
    where c.launch_id like 'COSPAR-%'

),

unioned as (

    select * from from_api
    union all
    select * from from_cospar

),

final as (

    select
        u.launch_id,
        u.flight_number,
        u.launch_name,
        u.launched_at,
        u.launch_date,
        u.date_precision,
        u.is_success,
        u.is_upcoming,
        u.launch_source,
        u.satellites_carried,
        u.satellites_carried > 0 or u.is_starlink_named as is_starlink,
        -- an upcoming launch, or one dated after the as-of date, has not happened
        not u.is_upcoming and u.launch_date <= a.as_of_date as has_happened
    from unioned as u
    cross join as_of as a

)

select * from final
