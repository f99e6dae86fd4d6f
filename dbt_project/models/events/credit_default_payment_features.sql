{#-
  Payment-history features of credit_default, point-in-time correct: each application sees
  only the payment events that happened before its application date (its label time).
-#}
{{ config(delta_path=env_var('AURORA_HOME') ~ '/lake/credit_default/payment_features') }}

with applications as (
    select
        application_id,
        {{ dbt.cast('application_date', dbt.type_timestamp()) }} as label_time,
        {{ dbt.cast('default_flag', dbt.type_int()) }} as default_flag
    from {{ source('credit_default_raw', 'raw') }}
),

payments as (
    select
        application_id,
        {{ dbt.cast('event_time', dbt.type_timestamp()) }} as event_time,
        amount_due,
        days_late
    from {{ source('credit_default_raw', 'payment_events') }}
),

history as (
    {{ asof_aggregate(
        spine='applications', events='payments', key='application_id',
        as_of='label_time', event_time='event_time',
        aggregates={
            'n_payments': 'count(*)',
            'n_late_payments': 'sum(case when e.days_late > 0 then 1 else 0 end)',
            'max_days_late': 'max(e.days_late)',
            'total_amount_due': 'sum(e.amount_due)',
            'last_payment_time': 'max(e.event_time)',
        },
    ) }}
),

last_year as (
    {{ asof_aggregate(
        spine='applications', events='payments', key='application_id',
        as_of='label_time', event_time='event_time', lookback_days=365,
        aggregates={'n_late_payments_365d': 'sum(case when e.days_late > 0 then 1 else 0 end)'},
    ) }}
)

select
    h.application_id,
    h.label_time,
    {{ dbt.cast('coalesce(h.n_payments, 0)', dbt.type_bigint()) }} as n_payments,
    {{ dbt.cast('coalesce(h.n_late_payments, 0)', dbt.type_bigint()) }} as n_late_payments,
    {{ dbt.cast('coalesce(y.n_late_payments_365d, 0)', dbt.type_bigint()) }} as n_late_payments_365d,
    {{ dbt.cast('h.max_days_late', dbt.type_bigint()) }} as max_days_late,
    {{ dbt.cast('h.total_amount_due', 'double') }} as total_amount_due,
    h.last_payment_time,
    h.default_flag
from history as h
inner join last_year as y
    on y.application_id = h.application_id
    and y.label_time = h.label_time
