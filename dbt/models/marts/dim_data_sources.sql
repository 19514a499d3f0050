{#- The sources behind the answer, how current each is, and which one the forecast uses. -#}
select
    source_name,
    as_of_date,
    satellites,
    snapshot_ds,
    is_forecast_source
from {{ ref('int_sources__as_of') }}
