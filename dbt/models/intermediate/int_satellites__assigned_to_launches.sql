{#- Every satellite gets a launch:
    1. the SpaceX API's own link, when it points at a known launch;
    2. else the launch its COSPAR siblings (same year and launch number) are linked to;
    3. else the one API launch flown that UTC day that no satellite is linked to;
    4. else a launch derived from the COSPAR designator itself ("COSPAR-2019-029"): how launches
       after the SpaceX API stopped updating are known.
    Nothing is dropped: a satellite without a usable designator keeps a null launch. -#}
with

forecast_source as (

    select source_name from {{ ref('int_sources__as_of') }} where is_forecast_source

),

satellites as (

    -- the satellites the forecast source lists (the other source adds facts, not satellites)
    select r.*
    from {{ ref('int_satellites__reconciled') }} as r
    cross join forecast_source as f
    where (f.source_name = 'spacex_api' and r.in_spacex_api)
       or (f.source_name = 'celestrak_satcat' and r.in_satcat)

),

launches as (

    select * from {{ ref('stg_spacex__launches') }}

),

linked as (

    select
        s.*,
        case when l.launch_id is not null then s.api_launch_id end as linked_launch_id
    from satellites as s
    left join launches as l
        on l.launch_id = s.api_launch_id

),

cospar_groups as (

    -- one pass over the satellites per COSPAR launch: the launches its satellites are linked to
    -- (min and count ignore the unlinked ones) and its first launch date
    select
        cospar_launch,
        min(linked_launch_id) as linked_launch_id,
        count(distinct linked_launch_id) as linked_launches,
        min(launch_date) as launch_date
    from linked
    where cospar_launch is not null
    group by cospar_launch

),

cospar_siblings as (

    -- a designator whose satellites point at different launches is ambiguous: not used
    select
        cospar_launch,
        linked_launch_id as launch_id
    from cospar_groups
    where linked_launches = 1

),

unlinked_groups as (

    -- designators with no usable sibling link (none linked, or ambiguous)
    select
        cospar_launch,
        launch_date
    from cospar_groups
    where linked_launches <> 1

),

launches_without_satellites as (

    -- linked to no satellite: NOT EXISTS, a hash anti join (NOT IN runs its subquery row by row
    -- once that outgrows work_mem, and leaves nulls implicit: a launch without an id stays out)
    select launches.*
    from launches
    where not is_upcoming
      and launch_id is not null
      and not exists (
          select
          from linked
          where linked.linked_launch_id = launches.launch_id
      )

),

same_day as (

    select
        g.cospar_launch,
        min(l.launch_id) as launch_id
    from unlinked_groups as g
    inner join launches_without_satellites as l
        on l.launch_date = g.launch_date
    group by g.cospar_launch
    having count(*) = 1

),

assigned as (

    select
        linked.*,
        coalesce(
            linked.linked_launch_id,
            cospar_siblings.launch_id,
            same_day.launch_id,
            'COSPAR-' || linked.cospar_launch
        ) as launch_id,
        case
            when linked.linked_launch_id is not null then 'api_link'
            when cospar_siblings.launch_id is not null then 'cospar_sibling'
            when same_day.launch_id is not null then 'same_day_launch'
            when linked.cospar_launch is not null then 'cospar_only'
            else 'unassigned'
        end as launch_assignment
    from linked
    left join cospar_siblings using (cospar_launch)
    left join same_day using (cospar_launch)

)

select * from assigned
