"""The lifecycle's stages and gates: one name per thing across assets, CLI and docs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(tuple[str, ...]):
    """An asset-key suffix under the experiment's name, e.g. ("eda", "profile")."""


RAW = Stage(("raw",))
RAW_BATCH = Stage(("raw_batch",))
PROFILE = Stage(("eda", "profile"))
FEATURES = Stage(("features",))
SCORING_FEATURES = Stage(("serve", "scoring_features"))
RECOMMENDATIONS = Stage(("train", "recommendations"))
MODEL = Stage(("train", "model"))
CHAMPION_COMPARISON = Stage(("train", "champion_comparison"))
MODEL_CARD = Stage(("explain", "model_card"))
STAGING_APPROVAL = Stage(("governance", "staging_approval"))
STAGING = Stage(("deploy", "staging"))
PRODUCTION_APPROVAL = Stage(("governance", "production_approval"))
UAT_SCORES = Stage(("serve", "uat_scores"))
PRODUCTION = Stage(("deploy", "production"))
BATCH_SCORES = Stage(("serve", "batch_scores"))
AB_COMPARISON = Stage(("serve", "ab_comparison"))  # champion vs challenger on the same day
PREDICTION_LOG = Stage(("serve", "prediction_log"))
DRIFT = Stage(("monitor", "drift"))
PERFORMANCE = Stage(("monitor", "performance"))

# The data stages a further task of a multi-task experiment (`tasks:`) shares with its parent:
# ingested and featurised once; the task's own assets start at train/recommendations.
SHARED_DATA_STAGES: frozenset[tuple[str, ...]] = frozenset(
    {RAW, RAW_BATCH, PROFILE, FEATURES, SCORING_FEATURES}
)

# The UAT check's name, here so the Dagster side can declare it without importing pandas.
UAT_CHECK = "uat_metric_min"


class Gate(StrEnum):
    staging = "staging"
    production = "production"


@dataclass(frozen=True)
class GateStages:
    approval: Stage
    deployment: Stage
    alias: str


GATES: dict[Gate, GateStages] = {
    Gate.staging: GateStages(STAGING_APPROVAL, STAGING, alias="staging"),
    Gate.production: GateStages(PRODUCTION_APPROVAL, PRODUCTION, alias="champion"),
}

# dbt feature models declare which stage they build with meta {aurora: {stage: ...}}.
DBT_STAGES: dict[str, Stage] = {"features": FEATURES, "scoring_features": SCORING_FEATURES}
DBT_SOURCE_STAGES: dict[str, Stage] = {"raw": RAW, "scoring_batch": RAW_BATCH}
