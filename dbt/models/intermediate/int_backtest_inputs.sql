{#- The same parameters as of an earlier cut-off (var backtest_cutoff, default: the as-of date minus
    backtest_horizon_months), for comparing the forecast with what happened after it. -#}
{%- if var('backtest_cutoff', none) %}
    {%- set cutoff = "select '" ~ var('backtest_cutoff') ~ "'::date" %}
{%- else %}
    {%- set cutoff = "select (as_of_date - make_interval(months => " ~ var('backtest_horizon_months')
        ~ "))::date from " ~ ref('int_sources__as_of') ~ " where is_forecast_source" %}
{%- endif %}
{{ forecast_inputs(cutoff) }}
