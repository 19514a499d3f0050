{#- The forecast's parameters per scenario, as of the data's as-of date (see macros/forecast.sql). -#}
{{ forecast_inputs("select as_of_date from " ~ ref('int_sources__as_of') ~ " where is_forecast_source") }}
