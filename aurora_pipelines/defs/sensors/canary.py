"""Canary controller: a sensor that watches a canary and a short job that acts on it.

The sensor only evaluates (aurora_pipelines/deploy/canary.py `evaluate_tick`, read-only); when
the canary should step up, be promoted or be rolled back it launches `<experiment>__canary_step`,
whose run evaluates afresh and applies the decision (recorded and audited). A change of
routing is thus a Dagster run with its own logs and status, never a side effect of a tick.
"""

import uuid

import dagster as dg

from aurora_pipelines.defs.resources import (
    ArtifactStoreResource,
    GovernanceResource,
    LakeResource,
    MlflowRegistryResource,
)
from aurora_pipelines.specs import ExperimentSpec

ACTIONS = ("advance", "promote", "rollback")


def _canary_inputs(spec: ExperimentSpec, registry, governance, artifacts, lake) -> dict:
    from aurora_pipelines.deploy.canary import CONTROLLER, LABELS_STAGE
    from aurora_pipelines.deploy.release import ReleaseContext

    ctx = ReleaseContext(
        tracking_uri=registry.tracking_uri,
        governance=governance.store(),
        actor=CONTROLLER,
        correlation_id=f"canary-{uuid.uuid4().hex[:16]}",
        experiment=spec.name,
        model_name=spec.name,
        store=artifacts.store(),  # a promotion re-verifies the version's bundle
    )
    classification = spec.problem_type.value == "classification"
    return {
        "ctx": ctx,
        "prediction_log": lake.layout.prediction_log(spec.name),
        # Accuracy = thresholded label vs outcome: classification only.
        "labels": lake.path(spec.name, *LABELS_STAGE) if classification else None,
        "spec": spec.deployment.canary,
    }


def build_canary_job(spec: ExperimentSpec) -> dg.JobDefinition:
    @dg.op(name=f"{spec.name}__canary_step_op", description="Evaluate the canary and act on it.")
    def canary_step(
        context: dg.OpExecutionContext,
        registry: MlflowRegistryResource,
        governance: GovernanceResource,
        artifacts: ArtifactStoreResource,
        lake: LakeResource,
    ) -> None:
        from aurora_pipelines.deploy.canary import canary_tick

        inputs = _canary_inputs(spec, registry, governance, artifacts, lake)
        evaluation, record = canary_tick(**inputs)
        if evaluation is None:
            context.log.info("no canary running: nothing to do")
            return
        done = f" (deployment #{record.id})" if record is not None else ""
        context.log.info(f"{spec.name}: {evaluation.summary}{done}")

    @dg.job(
        name=f"{spec.name}__canary_step",
        description="One canary step: raise the challenger's share, promote it, or roll back.",
        tags={"aurora/experiment": spec.name, "aurora/actor": "canary_controller"},
    )
    def canary_step_job() -> None:
        canary_step()

    return canary_step_job


def build_canary_sensor(spec: ExperimentSpec, job: dg.JobDefinition) -> dg.SensorDefinition:
    canary = spec.deployment.canary

    @dg.sensor(
        name=f"{spec.name}__canary_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Canary controller: steps {canary.steps} with at least "
        f"{canary.min_requests} challenger answers each; rolls back on a breach.",
    )
    def canary_sensor(
        context: dg.SensorEvaluationContext,
        registry: MlflowRegistryResource,
        governance: GovernanceResource,
        artifacts: ArtifactStoreResource,
        lake: LakeResource,
    ):
        # Imported on use: mlflow adds seconds to every code-location load.
        from aurora_pipelines.deploy.canary import evaluate_tick, step_started_at

        inputs = _canary_inputs(spec, registry, governance, artifacts, lake)
        evaluation = evaluate_tick(**inputs)
        if evaluation is None:
            return dg.SkipReason("no canary running")
        context.log.info(f"{spec.name}: {evaluation.summary}")
        if evaluation.decision not in ACTIONS:
            return dg.SkipReason(evaluation.summary)
        # One run per decision on one step: a tick that sees the same state again adds none.
        step = step_started_at(inputs["ctx"])
        key = f"{evaluation.decision}-{evaluation.challenger.version}-{evaluation.share}-{step}"
        return dg.RunRequest(
            run_key=f"canary-{key}",
            tags={"aurora/canary_decision": evaluation.decision},
        )

    return canary_sensor
