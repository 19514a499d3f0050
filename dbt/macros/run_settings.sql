{#- The run's settings, as dbt_project.yml defines them from the environment. A var defined there
    renders to a string ('42000', 'True' or 'False', and any non-empty string is truthy); one
    passed with --vars keeps its type (42000, false). These read both the same way and stop the
    compilation on anything else, naming the environment variable to fix. -#}

{% macro target_satellites() -%}
    {%- set value = var('target_satellites') | string | trim -%}
    {%- if not value.isdigit() or value | int <= 0 -%}
        {{ exceptions.raise_compiler_error(
            "TARGET_SATELLITES (var target_satellites) must be a positive whole number, got '"
            ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value | int) }}
{%- endmacro %}

{% macro use_satcat() -%}
    {%- set value = var('use_satcat') | string | trim | lower -%}
    {%- if value not in ('true', 'false') -%}
        {{ exceptions.raise_compiler_error(
            "use_satcat (var use_satcat, from DATASETS) must be true or false, got '" ~ value ~ "'") }}
    {%- endif -%}
    {{ return(value == 'true') }}
{%- endmacro %}
