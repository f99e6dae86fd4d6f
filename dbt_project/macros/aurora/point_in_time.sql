{#-
  As-of (point-in-time) aggregation: for every row of `spine` (one row per entity and label
  time), aggregate only the events of that entity that happened STRICTLY BEFORE its label time
  (optionally within `lookback_days`). A training row therefore never sees an event from its
  own future, and the same SQL serves scoring (label time = the time of scoring).

  Arguments:
    spine        relation or CTE with `key` and `as_of` (the label time, a timestamp)
    events       relation or CTE with `key` and `event_time`
    key          entity column present in both
    as_of        label-time column of the spine
    event_time   event-time column of the events
    aggregates   {output column: SQL aggregate over `e.` columns}, e.g. {'n': 'count(e.id)'}
    lookback_days  only events in [as_of - lookback_days, as_of); none = all history

  Returns a select of every spine column plus the aggregates (null when no event qualifies;
  wrap counts in coalesce in the model if 0 is meant). Portable: a join + group by, with dbt's
  cross-database dateadd for the window.
-#}
{% macro asof_aggregate(spine, events, key, as_of, event_time, aggregates, lookback_days=none) %}
    select
        s.*
        {%- for name, expression in aggregates.items() %},
        a.{{ name }}
        {%- endfor %}
    from {{ spine }} as s
    left join (
        select
            s.{{ key }} as asof_key,
            s.{{ as_of }} as asof_time
            {%- for name, expression in aggregates.items() %},
            {{ expression }} as {{ name }}
            {%- endfor %}
        from {{ spine }} as s
        inner join {{ events }} as e
            on e.{{ key }} = s.{{ key }}
            and e.{{ event_time }} < s.{{ as_of }}
            {%- if lookback_days is not none %}
            and e.{{ event_time }} >= {{ dbt.dateadd('day', -1 * lookback_days, 's.' ~ as_of) }}
            {%- endif %}
        group by s.{{ key }}, s.{{ as_of }}
    ) as a
        on a.asof_key = s.{{ key }}
        and a.asof_time = s.{{ as_of }}
{% endmacro %}
