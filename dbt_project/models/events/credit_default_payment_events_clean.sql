{#-
  Incremental: the cleaned payment events of credit_default, one row per event. The source is
  append-only, so each run reads only the events after the latest `event_time` already in the
  Delta table and appends them (one Delta commit; none when nothing is new). `--full-refresh`
  rebuilds the table from all events. See macros/aurora/incremental.sql.
-#}
{{ config(
    delta_path=env_var('AURORA_HOME') ~ '/lake/credit_default/payment_events_clean',
    delta_mode='append',
    watermark='event_time',
) }}

with events as (
    select
        event_id,
        application_id,
        {{ dbt.cast('event_time', dbt.type_timestamp()) }} as event_time,
        {{ dbt.cast('amount_due', 'double') }} as amount_due,
        {{ dbt.cast('days_late', dbt.type_bigint()) }} as days_late
    from {{ source('credit_default_raw', 'payment_events') }}
    where event_id is not null
        and application_id is not null
        and event_time is not null
),

new_events as (
    select
        *,
        -- A replayed event (same id) in the source is kept once.
        row_number() over (partition by event_id order by event_time) as copy_number
    from events
    {% if is_incremental() %}
    where event_time > {{ aurora_watermark() }}
    {% endif %}
)

select
    event_id,
    application_id,
    event_time,
    {{ dbt.cast('event_time', 'date') }} as event_date,
    amount_due,
    days_late,
    case when days_late > 0 then 1 else 0 end as is_late
from new_events
where copy_number = 1
