{#-
  The ONE definition of the credit_default features. Both the training feature table and the
  scoring feature table select exactly these expressions, so what a model is trained on and what
  it is scored on can never diverge (training/serving parity). Change features here only.

  Reads the raw columns of `generate_credit_data()`; `last_delinquency_date` is turned into
  features and not kept itself. `include_target` adds `default_flag` (training only: a scoring
  batch may or may not carry labels, and scoring features never do).
-#}
{% macro credit_default_feature_columns(include_target=true) -%}
    application_id,
    application_date,
    age,
    {{ dbt.cast('annual_income', 'double') }} as annual_income,
    {{ dbt.cast('employment_years', 'double') }} as employment_years,
    employment_type,
    home_ownership,
    region,
    {{ dbt.cast('loan_amount', 'double') }} as loan_amount,
    loan_term_months,
    loan_purpose,
    {{ dbt.cast('interest_rate', 'double') }} as interest_rate,
    credit_score,
    {{ dbt.cast('credit_utilization', 'double') }} as credit_utilization,
    num_credit_lines,
    num_late_payments_12m,
    {{ dbt.cast('debt_to_income', 'double') }} as debt_to_income,
    {{ dbt.cast('has_cosigner', dbt.type_int()) }} as has_cosigner,
    -- Derived features.
    {{ dbt.cast('loan_amount', 'double') }} / nullif(annual_income, 0) as loan_to_income,
    {{ credit_default_monthly_payment() }} as monthly_payment,
    12 * {{ credit_default_monthly_payment() }} / nullif(annual_income, 0) as payment_to_income,
    case
        when last_delinquency_date is not null
            then {{ months_between('last_delinquency_date', 'application_date') }}
    end as months_since_delinquency,
    {{ dbt.cast('last_delinquency_date is not null', dbt.type_int()) }} as has_delinquency,
    -- ln(1 + x): defined at zero income; negative incomes are data errors -> null.
    case when annual_income >= 0 then ln(1 + annual_income) end as log_annual_income
    {%- if include_target %},
    {{ dbt.cast('default_flag', dbt.type_int()) }} as default_flag
    {%- endif %}
{%- endmacro %}


{#- Amortised monthly instalment: P * r / (1 - (1 + r)^-n), r = APR% / 1200; P / n at 0%. -#}
{% macro credit_default_monthly_payment() -%}
    (case
        when loan_term_months is null or loan_term_months <= 0 then null
        when interest_rate = 0 then {{ dbt.cast('loan_amount', 'double') }} / loan_term_months
        else {{ dbt.cast('loan_amount', 'double') }} * (interest_rate / 1200.0)
            / (1 - power(1 + interest_rate / 1200.0, -loan_term_months))
    end)
{%- endmacro %}
