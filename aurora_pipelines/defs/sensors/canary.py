"""Canary sensor: steps a canary's traffic share up, promotes it, or rolls it back.

Thin: each tick calls the engine (aurora_pipelines/deploy/canary.py), which reads the
prediction log, compares challenger and champion, and records and audits any change.
"""

import uuid

import dagster as dg

from aurora_pipelines.defs.resources import AuroraResource
from aurora_pipelines.specs import ExperimentSpec


def build_canary_sensor(spec: ExperimentSpec) -> dg.SensorDefinition:
    canary = spec.deployment.canary

    @dg.sensor(
        name=f"{spec.name}__canary_sensor",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Canary controller: steps {canary.steps} with at least "
        f"{canary.min_requests} challenger answers each; rolls back on a breach.",
    )
    def canary_sensor(context: dg.SensorEvaluationContext, aurora: AuroraResource):
        # Imported on use: mlflow adds seconds to every code-location load.
        from aurora_pipelines.deploy.canary import CONTROLLER, LABELS_STAGE, canary_tick
        from aurora_pipelines.deploy.release import ReleaseContext
        from aurora_pipelines.serving.prediction_log import prediction_log_path

        ctx = ReleaseContext(
            tracking_uri=aurora.tracking_uri,
            governance=aurora.governance(),
            actor=CONTROLLER,
            correlation_id=f"canary-{uuid.uuid4().hex[:16]}",
            experiment=spec.name,
            model_name=spec.name,
            store=aurora.artifact_store(),  # a promotion re-verifies the version's bundle
        )
        evaluation, record = canary_tick(
            ctx,
            prediction_log=prediction_log_path(aurora.settings.lake_dir, spec.name),
            # Accuracy = thresholded label vs outcome: classification only.
            labels=aurora.lake_path(spec.name, *LABELS_STAGE)
            if spec.problem_type.value == "classification"
            else None,
            spec=canary,
        )
        if evaluation is None:
            return dg.SkipReason("no canary running")
        context.log.info(f"{spec.name}: {evaluation.summary}")
        done = f" (deployment #{record.id})" if record is not None else ""
        return dg.SkipReason(f"{evaluation.summary}{done}")

    return canary_sensor
