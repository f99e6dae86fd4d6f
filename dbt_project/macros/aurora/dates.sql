{#-
  Calendar months from `start_date` to `end_date` (month boundaries crossed), the same on
  every target. dbt's cross-database `datediff(..., 'month')` is not: on spark it is built on
  months_between, which treats two month-ends as whole months (Jan 31 -> Feb 28 gives 2 on
  spark, 1 on duckdb). Dispatched, so another adapter can supply its own.
-#}
{% macro months_between(start_date, end_date) %}
    {{ return(adapter.dispatch('months_between', 'aurora')(start_date, end_date)) }}
{% endmacro %}

{% macro default__months_between(start_date, end_date) -%}
    {%- set months -%}
        (year({{ end_date }}) - year({{ start_date }})) * 12
            + (month({{ end_date }}) - month({{ start_date }}))
    {%- endset -%}
    {{ dbt.cast(months, dbt.type_bigint()) }}
{%- endmacro %}
