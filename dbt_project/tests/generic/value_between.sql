{#-
  Fails for every non-null value of `column_name` outside [min_value, max_value] (inclusive).
  Nulls pass: missingness is tested separately with not_null where it matters.
-#}
{% test value_between(model, column_name, min_value, max_value) %}

select {{ column_name }} as failing_value
from {{ model }}
where {{ column_name }} is not null
  and ({{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }})

{% endtest %}
