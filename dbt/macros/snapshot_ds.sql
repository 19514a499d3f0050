{#- The ds of the snapshot a run reads: the newest one loaded on or before var('ds'), or the newest
    of all. raw.load_log is written in the same transaction as each partition, so a ds it lists is
    complete. Partition pruning keeps the cost of reading it flat as snapshots accumulate. -#}
{% macro snapshot_ds(dataset) -%}
(
    select max(ds)
    from {{ source('pipeline', 'load_log') }}
    where dataset = '{{ dataset }}'
    {%- if var('ds', none) %}
      and ds <= '{{ var("ds") }}'::date
    {%- endif %}
)
{%- endmacro %}
