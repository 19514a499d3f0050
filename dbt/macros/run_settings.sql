{#- The run's settings, as dbt_project.yml defines them from the environment. A var defined there
    renders to a string ('42000', 'True' or 'False', '' for unset, and any non-empty string is
    truthy); one passed with --vars keeps its type (42000, false, null). These read both the same
    way and stop the compilation on anything else, naming the environment variable to fix. -#}

{% macro whole_number_setting(name, variable, low=1) -%}
    {%- set value = var(name) | string | trim -%}
    {%- if not value.isdigit() or value | int < low -%}
        {{ exceptions.raise_compiler_error(
            variable ~ " (var " ~ name ~ ") must be a whole number of " ~ low ~ " or more, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value | int) }}
{%- endmacro %}

{#- A number, or none when unset (the forecast then measures it from the data). -#}
{% macro optional_number_setting(name, variable) -%}
    {%- set raw = var(name, none) -%}
    {%- set value = '' if raw is none else raw | string | trim -%}
    {%- if value in ('', 'None', 'none') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set number = value | float(-1) -%}  {#- -1: not a number -#}
    {%- if number < 0 -%}
        {{ exceptions.raise_compiler_error(
            variable ~ " (var " ~ name ~ ") must be a number of 0 or more, or unset, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(number) }}
{%- endmacro %}

{% macro target_satellites() -%}
    {{ return(whole_number_setting('target_satellites', 'TARGET_SATELLITES')) }}
{%- endmacro %}

{% macro cadence_window_months() -%}
    {{ return(whole_number_setting('cadence_window_months', 'CADENCE_WINDOW_MONTHS')) }}
{%- endmacro %}

{% macro trend_window_months() -%}
    {{ return(whole_number_setting('trend_window_months', 'TREND_WINDOW_MONTHS', low=2)) }}
{%- endmacro %}

{% macro satellites_per_launch_setting() -%}
    {{ return(optional_number_setting('satellites_per_launch', 'SATELLITES_PER_LAUNCH')) }}
{%- endmacro %}

{% macro decays_per_month_setting() -%}
    {{ return(optional_number_setting('decays_per_month', 'DECAYS_PER_MONTH')) }}
{%- endmacro %}

{#- The backtest's horizons, in months: a list of whole numbers, sorted (var backtest_horizons). -#}
{% macro backtest_horizons() -%}
    {%- set raw = var('backtest_horizons') -%}
    {%- set items = raw.split(',') if raw is string else raw -%}
    {%- set horizons = [] -%}
    {%- for item in items -%}
        {%- set value = item | string | trim -%}
        {%- if not value.isdigit() or value | int < 1 -%}
            {{ exceptions.raise_compiler_error(
                "var backtest_horizons must list whole numbers of months, got '" ~ raw ~ "'") }}
        {%- endif -%}
        {%- do horizons.append(value | int) -%}
    {%- endfor -%}
    {{ return(horizons | unique | sort) }}
{%- endmacro %}

{#- The run's logical date as a SQL date, or a null date when dbt runs without one. -#}
{% macro run_ds() -%}
    {%- if var('ds', none) -%}'{{ var("ds") }}'::date{%- else -%}null::date{%- endif -%}
{%- endmacro %}

{% macro use_satcat() -%}
    {%- set value = var('use_satcat') | string | trim | lower -%}
    {%- if value not in ('true', 'false') -%}
        {{ exceptions.raise_compiler_error(
            "use_satcat (var use_satcat, from DATASETS) must be true or false, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value == 'true') }}
{%- endmacro %}
