{#- on-run-start (dbt_project.yml): before a `dbt build` or `dbt run` changes any model, forget what
    marts.marts_build claims unless this build keeps it true, so that a build that does not finish
    (failed, killed) leaves no claim about which ds the marts hold. models/marts/marts_build.sql,
    built after every other mart, writes it again.
    - marts_build selected (a whole build, or its own retry): emptied; it is written again last.
    - a partial build without it (one model retried, `starlink42k backtest`): the claim stays only if
      it is for the same ds, whose snapshots the partial build reads too (report still checks that
      they were not republished since: src/starlink42k/publish.py).
    The schema is the one its folder names (macros/generate_schema_name.sql). -#}
{% macro forget_marts_build() %}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        {%- set whole = ('model.' ~ project_name ~ '.marts_build') in selected_resources -%}
        {%- set ds = var('ds', none) -%}
        do $$ begin
            if to_regclass('marts.marts_build') is not null then
                delete from marts.marts_build
                {%- if not whole %}
                where built_for_ds is distinct from {% if ds %}'{{ ds }}'::date{% else %}null::date{% endif %}
                {%- endif %};
            end if;
        end $$
    {%- endif -%}
{% endmacro %}
