{#- on-run-start (dbt_project.yml): empties marts.marts_build before a `dbt build` or `dbt run`
    changes any model, so that a build that does not finish (failed, killed, a partial `--select`,
    a backtest) leaves no claim about which ds the marts hold. models/marts/marts_build.sql, built
    after every other mart, writes it again. The schema is the one its folder names
    (macros/generate_schema_name.sql). -#}
{% macro forget_marts_build() %}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        do $$ begin
            if to_regclass('marts.marts_build') is not null then delete from marts.marts_build; end if;
        end $$
    {%- endif -%}
{% endmacro %}
