{#- Training features of experiment credit_default (labelled). Logic: macros/credit_default_features.sql -#}
{{ config(delta_path=env_var('AURORA_HOME') ~ '/lake/credit_default/features') }}

select
    {{ credit_default_feature_columns(include_target=true) }}
from {{ source('credit_default_raw', 'raw') }}
