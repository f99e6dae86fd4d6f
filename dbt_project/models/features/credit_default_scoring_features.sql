{#- Scoring features of experiment credit_default: the same expressions as training, no label. -#}
{{ config(delta_path=env_var('AURORA_HOME') ~ '/lake/credit_default/serve/scoring_features') }}

select
    {{ credit_default_feature_columns(include_target=false) }}
from {{ source('credit_default_raw', 'scoring_batch') }}
