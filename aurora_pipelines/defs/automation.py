"""Dagster's own machinery over the lifecycle: code versions, declarative automation, freshness.

- `code_version`: each asset's version is a digest of the spec sections it is built from plus
  the engine's package version, so the UI marks an asset changed when its spec section or the
  engine changed, and `code_version_changed()` can react to it.
- Automation: the ungated chain (`raw_batch -> scoring_features -> batch_scores -> drift /
  performance`, plus the A/B comparison) follows its upstream (`AutomationCondition.eager()`),
  evaluated by one automation sensor. Gated stages (training, approvals, deployments) are never
  automated: they run when a person, the approval sensor or the drift sensor asks.
- Freshness: the day's batch scores and drift report are due by 09:00 UTC each day
  (`FreshnessPolicy.cron`; the UI shows an asset that missed it as stale).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.specs import ExperimentSpec

# Which spec sections each stage is built from (its code version changes with them).
STAGE_SECTIONS: dict[lifecycle.Stage, tuple[str, ...]] = {
    lifecycle.RAW: ("source", "target", "id_column", "time_column"),
    lifecycle.RAW_BATCH: ("scoring", "id_column"),
    lifecycle.PROFILE: ("profiling", "target"),
    lifecycle.RECOMMENDATIONS: ("training", "problem_type", "target"),
    lifecycle.MODEL: ("training", "problem_type", "target", "id_column", "time_column"),
    lifecycle.CHAMPION_COMPARISON: ("monitoring", "training"),
    lifecycle.MODEL_CARD: ("governance",),
    lifecycle.STAGING_APPROVAL: ("governance",),
    lifecycle.STAGING: ("deployment",),
    lifecycle.UAT_SCORES: ("deployment",),
    lifecycle.PRODUCTION_APPROVAL: ("governance",),
    lifecycle.PRODUCTION: ("deployment",),
    lifecycle.BATCH_SCORES: ("scoring",),
    lifecycle.AB_COMPARISON: ("scoring",),
    lifecycle.DRIFT: ("monitoring",),
    lifecycle.PERFORMANCE: ("monitoring",),
}
AUTOMATED = (
    lifecycle.SCORING_FEATURES,
    lifecycle.BATCH_SCORES,
    lifecycle.AB_COMPARISON,
    lifecycle.DRIFT,
    lifecycle.PERFORMANCE,
)
FRESH_BY = (lifecycle.BATCH_SCORES, lifecycle.DRIFT)
FRESHNESS_DEADLINE = "0 9 * * *"  # the 06:00 UTC scoring has three hours
FRESHNESS_WINDOW = timedelta(hours=24)  # materialized within the day before the deadline


def _engine_version() -> str:
    try:
        return version("aurora-pipelines")
    except PackageNotFoundError:
        return "dev"


def code_version(spec: ExperimentSpec, stage: lifecycle.Stage) -> str | None:
    sections = STAGE_SECTIONS.get(stage)
    if sections is None:
        return None
    dumped = spec.model_dump(mode="json", include=set(sections))
    digest = hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:12]
    return f"{_engine_version()}-{digest}"


def _stage_of(spec: ExperimentSpec, key: dg.AssetKey) -> lifecycle.Stage | None:
    path = key.path
    if path[:1] != [spec.name]:
        return None
    return lifecycle.Stage(tuple(path[1:]))


def with_lifecycle_policy(
    spec: ExperimentSpec, assets: list[dg.AssetsDefinition]
) -> list[dg.AssetsDefinition]:
    """The experiment's assets with their code versions and automation conditions."""

    def apply(asset_spec: dg.AssetSpec) -> dg.AssetSpec:
        stage = _stage_of(spec, asset_spec.key)
        if stage is None:
            return asset_spec
        changes = {}
        if (version_ := code_version(spec, stage)) is not None:
            changes["code_version"] = version_
        if stage in AUTOMATED:
            changes["automation_condition"] = dg.AutomationCondition.eager()
        if stage in FRESH_BY:
            changes["freshness_policy"] = dg.FreshnessPolicy.cron(
                deadline_cron=FRESHNESS_DEADLINE, lower_bound_delta=FRESHNESS_WINDOW
            )
        return asset_spec.replace_attributes(**changes) if changes else asset_spec

    return [a.map_asset_specs(apply) for a in assets]


def automated_keys(spec: ExperimentSpec) -> list[dg.AssetKey]:
    # monitor/performance exists only with `monitoring.labels` (defs/assets/monitoring.py);
    # selecting a missing key makes the automation sensor fail the whole code location.
    return [
        dg.AssetKey(spec.key(*stage))
        for stage in AUTOMATED
        if stage != lifecycle.PERFORMANCE or spec.monitoring.labels is not None
    ]
