{#-
  Target-aware sources: the SAME models read a raw Delta table on every target.

  - duckdb: dbt-duckdb's `delta` plugin loads the table at `meta.delta_table_path`
    (the built-in `source()` relation is used as is).
  - spark with delta-spark on the classpath (`--vars '{aurora_spark_delta: true}'`, clusters):
    the table is read in place as delta.`<path>`.
  - spark without delta-spark (this laptop): `aurora-dbt` registers each Delta source as a
    temporary view `<source>__<table>` over its current snapshot's parquet files before the
    run (aurora_pipelines/lake/dbt_runner.py); this macro points the model at that view.
-#}
{% macro source(source_name, table_name) %}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- if target.type != 'spark' or not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set path = aurora_delta_source_path(source_name, table_name) -%}
    {%- if not path -%}
        {{ return(relation) }}
    {%- elif var('aurora_spark_delta', false) -%}
        {{ return(api.Relation.create(schema='delta', identifier=path, quote_policy={'identifier': true})) }}
    {%- else -%}
        {{ return(api.Relation.create(identifier=aurora_source_view(source_name, table_name))) }}
    {%- endif -%}
{% endmacro %}


{#- The Delta path a source table declares in `meta.delta_table_path`, or none. -#}
{% macro aurora_delta_source_path(source_name, table_name) %}
    {%- set found = namespace(path=none) -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.source_name == source_name and node.name == table_name -%}
            {%- set found.path = node.meta.get('delta_table_path') -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found.path) }}
{% endmacro %}


{#- Name of the temporary view aurora-dbt registers for a Delta source on local Spark. -#}
{% macro aurora_source_view(source_name, table_name) %}
    {{ return(source_name ~ '__' ~ table_name) }}
{% endmacro %}
