{#-
  Incremental models over append-only event sources, on Delta.

  A model's real target is its Delta table (`delta_path`), not a relation in the warehouse:
  the duckdb target is in-memory and the local spark warehouse is per run, so dbt's own
  `is_incremental()` would never see the previous output. For a model that sets
  `delta_path`, `delta_mode` append or merge, and `watermark` (its event-time column), these
  macros read the max watermark from the existing Delta table instead, through the SQL
  function `aurora_delta_watermark(path, column)` (registered by the aurora_delta plugin on
  duckdb and by aurora-dbt on spark):

  - `is_incremental()`: true when that Delta table already holds rows (and not --full-refresh);
    other models keep dbt's behaviour.
  - `aurora_watermark()`: the max watermark as a timestamp literal, for
    `where event_time > {{ aurora_watermark() }}` inside `{% if is_incremental() %}`.
-#}
{% macro is_incremental() %}
    {%- if model.config.get('delta_path') and model.config.get('watermark') -%}
        {{ return(aurora_watermark_value() is not none) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{% endmacro %}


{% macro aurora_watermark() %}
    {%- set value = aurora_watermark_value() -%}
    {%- if value is none -%}
        {{ exceptions.raise_compiler_error(
            "model " ~ model.name ~ ": aurora_watermark() has no previous Delta output to read; "
            ~ "use it only inside {% if is_incremental() %}") }}
    {%- endif -%}
    {{ return(dbt.cast(dbt.string_literal(value), dbt.type_timestamp())) }}
{% endmacro %}


{#- The max watermark of the model's Delta table as text, or none (first run, full refresh). -#}
{% macro aurora_watermark_value() %}
    {%- set path = model.config.get('delta_path') -%}
    {%- set column = model.config.get('watermark') -%}
    {%- set mode = model.config.get('delta_mode') or 'overwrite' -%}
    {%- if not execute or not path or not column or mode == 'overwrite' or should_full_refresh() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select aurora_delta_watermark({{ dbt.string_literal(path) }}, {{ dbt.string_literal(column) }}) as watermark
    {%- endset -%}
    {%- set value = run_query(query).columns[0].values()[0] -%}
    {{ return(none if value is none else (value | string)) }}
{% endmacro %}
