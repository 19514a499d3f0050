{#- The ds of the snapshot a run reads: the newest one published on or before var('ds'), or the
    newest of all. raw.load_log lists published loads only, each written in the transaction that
    attached its partition with the other datasets of its ds: a ds it lists is whole. Partition
    pruning keeps the cost of reading it flat as snapshots accumulate. -#}
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
