"""Asset jobs per experiment: the whole lifecycle, each promotion, retraining, daily scoring."""

from dataclasses import dataclass
from typing import Any

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.lifecycle import GATES, Gate
from aurora_pipelines.specs import ExperimentSpec

# What `dg.define_asset_job` returns; its class is not part of Dagster's public API.
AssetJob = Any


@dataclass(frozen=True)
class ExperimentJobs:
    lifecycle: AssetJob
    lifecycle_daily: AssetJob
    promote: dict[Gate, AssetJob]
    retrain: AssetJob
    score_and_monitor: AssetJob
    refresh: AssetJob

    def all(self) -> list[AssetJob]:
        return [
            self.lifecycle,
            self.lifecycle_daily,
            *self.promote.values(),
            self.retrain,
            self.score_and_monitor,
            self.refresh,
        ]


def _keys(spec: ExperimentSpec, *stages: lifecycle.Stage) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*[dg.AssetKey(spec.key(*s)) for s in stages])


# Daily-partitioned stages: a run of them needs a day (the partition), the rest do not.
DAILY_STAGES = (
    lifecycle.BATCH_SCORES,
    lifecycle.AB_COMPARISON,
    lifecycle.DRIFT,
    lifecycle.PERFORMANCE,
)


def build_experiment_jobs(spec: ExperimentSpec) -> ExperimentJobs:
    tags = {"aurora/experiment": spec.name}
    promote = {
        Gate.staging: dg.define_asset_job(
            f"{spec.name}__promote_staging",
            selection=_keys(
                spec,
                GATES[Gate.staging].approval,
                lifecycle.STAGING,
                lifecycle.UAT_SCORES,
                lifecycle.PRODUCTION_APPROVAL,
            ),
            description="After a staging approval: re-verify it, deploy to staging, score the "
            "UAT set, and file the production approval request with the UAT report.",
            tags=tags,
        ),
        Gate.production: dg.define_asset_job(
            f"{spec.name}__promote_production",
            selection=_keys(
                spec,
                lifecycle.PRODUCTION_APPROVAL,
                lifecycle.PRODUCTION,
                lifecycle.BATCH_SCORES,
                lifecycle.AB_COMPARISON,
                lifecycle.DRIFT,
            ),
            description="After a production approval: re-verify it, make the version champion, "
            "score the day's batch (partition: the day) and report drift.",
            tags=tags,
        ),
    }
    return ExperimentJobs(
        refresh=dg.define_asset_job(
            f"{spec.name}__refresh_sources",
            selection=_keys(spec, lifecycle.RAW, lifecycle.PROFILE, lifecycle.RAW_BATCH),
            description="Re-ingest a source that changed (the new-data sensor's job): raw and "
            "its profile, or the scoring batch.",
            tags={**tags, "aurora/trigger": "new_data"},
        ),
        # Unpartitioned, so the Launchpad asks for no day; the daily stages have their own job.
        lifecycle=dg.define_asset_job(
            f"{spec.name}__lifecycle",
            selection=dg.AssetSelection.groups(spec.name) - _keys(spec, *DAILY_STAGES),
            tags=tags,
            description="Every unpartitioned stage of the experiment, as far as its gates "
            f"allow; the day's scoring and drift run from {spec.name}__score_and_monitor.",
        ),
        lifecycle_daily=dg.define_asset_job(
            f"{spec.name}__lifecycle_daily",
            selection=dg.AssetSelection.groups(spec.name),
            tags=tags,
            description="Every stage including one day's scoring and drift (pick the day): "
            "what `aurora run` launches when the day's batch is due too.",
        ),
        promote=promote,
        retrain=dg.define_asset_job(
            f"{spec.name}__retrain",
            selection=_keys(
                spec,
                lifecycle.RAW,
                lifecycle.PROFILE,
                lifecycle.FEATURES,
                lifecycle.RECOMMENDATIONS,
                lifecycle.MODEL,
                lifecycle.CHAMPION_COMPARISON,
                lifecycle.MODEL_CARD,
                lifecycle.STAGING_APPROVAL,
            ),
            description="Retrain on the current source, compare the candidate with the champion "
            "and file a new staging approval request; "
            "the candidate never serves without the same approvals.",
            tags={**tags, "aurora/trigger": "retrain"},
        ),
        score_and_monitor=dg.define_asset_job(
            f"{spec.name}__score_and_monitor",
            selection=_keys(
                spec,
                lifecycle.RAW_BATCH,
                lifecycle.SCORING_FEATURES,
                lifecycle.BATCH_SCORES,
                lifecycle.AB_COMPARISON,
                lifecycle.DRIFT,
            ),
            description="Score one day's batch with the champion (and challenger) and report "
            "drift; partitioned by day.",
            tags=tags,
        ),
    )
