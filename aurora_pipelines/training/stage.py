"""train/model as one engine call: train the plan's family, register the winner, record it.

`train_and_register` serves both families: in process (sklearn and torch, CV + Optuna on a
pandas frame) and Spark MLlib (holdout selection on a Spark DataFrame, never collected). Both
keep the same rows of a table larger than `training.max_train_rows` (training/row_sample.py),
tag the MLflow runs and the version with the run's correlation id, and end with a candidate
record in the governance store: the version the staging gate will decide on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from aurora_pipelines.lake import delta
from aurora_pipelines.registry.model_version import metric_direction
from aurora_pipelines.results import CheckVerdict, JsonValue, Markdown, MetadataDict
from aurora_pipelines.training.metric_bound import MetricBound, resolve_bound
from aurora_pipelines.training.row_sample import sample_pandas, sample_spark

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from aurora_pipelines.governance.candidates import CandidateRecord
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.recommend.plan import TrainingPlan
    from aurora_pipelines.registry.mlflow_registry import RegisteredModel
    from aurora_pipelines.specs import ExperimentSpec

METRIC_CHECK = "metric_min"
CORRELATION_TAG = "aurora.correlation_id"
DAGSTER_RUN_TAG = "aurora.dagster_run_id"


@dataclass(frozen=True)
class TrainingOutcome:
    """What train/model produced: the registered version, its score against the spec's bar,
    the candidate record the staging gate reads, and the family's own evidence (`details`)."""

    registered: RegisteredModel
    candidate: CandidateRecord
    family: str  # "sklearn" (in process, also torch) | "spark"
    features_path: Path
    features_version: int
    primary_metric: str
    score: float
    score_basis: str  # "mean CV" (in process) | "holdout" (Spark)
    greater_is_better: bool
    bound: MetricBound
    details: MetadataDict = field(default_factory=dict)

    @property
    def metric_min(self) -> float:
        return self.bound.value

    @property
    def meets_bar(self) -> bool:
        """Whether the score meets the bound in the metric's own direction."""
        return self.bound.meets(self.score)

    def as_metadata(self) -> MetadataDict:
        registered = self.registered
        return {
            "model_name": registered.name,
            "model_version": registered.version,
            "model_digest": registered.digest,
            "mlflow_run_id": registered.run_id,
            "model_uri": registered.model_uri,
            "feature_table": self.features_path,
            "feature_table_version": self.features_version,
            "metric_bound": self.bound.value,
            "metric_bound_reason": self.bound.reason,
            **self.details,
        }

    def checks(self) -> list[CheckVerdict]:
        passed = self.meets_bar
        return [
            CheckVerdict(
                name=METRIC_CHECK,
                passed=passed,
                # Empty when passed (results.CheckVerdict); the bound and why stay in metadata.
                description=""
                if passed
                else (
                    f"{self.score_basis} {self.primary_metric} {self.score:.4f} is not "
                    f"{self.bound.comparison} the bound {self.bound.value:.4f} "
                    f"({self.bound.reason}); improve the features or algorithms before "
                    "requesting approval"
                ),
                metadata={
                    self.primary_metric: self.score,
                    "bound": self.bound.value,
                    "direction": "min" if self.greater_is_better else "max",
                    "bound_source": self.bound.source,
                    "bound_reason": self.bound.reason,
                },
            )
        ]


def run_tags(
    spec: ExperimentSpec, plan: TrainingPlan, correlation_id: str, run_id: str | None
) -> dict[str, str]:
    """Tags on the MLflow runs and the version: who owns it, and the ids that tie it to its
    audit rows (`aurora.correlation_id`) and to the Dagster run."""
    tags = {
        "aurora.experiment": spec.name,
        "aurora.team": spec.team,
        "aurora.owner": spec.owner,
        CORRELATION_TAG: correlation_id,
        "aurora.plan_sources": json.dumps(plan.sources, sort_keys=True),
    }
    if run_id:
        tags[DAGSTER_RUN_TAG] = run_id
    return tags


def train_and_register(
    spec: ExperimentSpec,
    plan: TrainingPlan,
    *,
    features_path: Path,
    tracking_uri: str,
    artifact_root: Path,
    spark: Callable[[], SparkSession],
    governance: GovernanceStore,
    actor: str,
    correlation_id: str,
    run_id: str | None = None,
    eda_dir: Path | None = None,
) -> TrainingOutcome:
    """Train `plan` on the feature table, register the best model and record it as the
    experiment's training candidate (with an audit row under `correlation_id`).

    `spark` is called only for the Spark MLlib family, so in-process training starts no JVM.
    `run_id` is the orchestrator's run id (tag `aurora.dagster_run_id`), when there is one.
    `eda_dir` holds eda/profile's report: its HTML, JSON and plots are logged to the run.
    """
    from aurora_pipelines.workspace.roles import TRAIN
    from aurora_pipelines.workspace.store import WorkspaceStore
    from aurora_pipelines.workspace.versions import version_tags

    # Only the experiment's owners and editors train it (refusal audited); the spec version
    # trained is recorded (a new number if the file changed since) and tagged on the runs.
    workspace = WorkspaceStore(governance)
    workspace.require(spec, actor, TRAIN, correlation_id)
    spec_version, _ = workspace.record_version(
        spec, actor, note="recorded when training started", correlation_id=correlation_id
    )
    if spec.is_unsupervised:
        from aurora_pipelines.training.unsupervised.stage import train_and_register_unsupervised

        return train_and_register_unsupervised(
            spec,
            plan,
            features_path=features_path,
            tracking_uri=tracking_uri,
            artifact_root=artifact_root,
            governance=governance,
            actor=actor,
            correlation_id=correlation_id,
            tags={**run_tags(spec, plan, correlation_id, run_id), **version_tags(spec_version)},
            run_id=run_id,
        )
    features_version = delta.version(features_path)
    inputs = _TrainingInputs(
        spec=spec,
        plan=plan,
        features_path=features_path,
        features_version=features_version,
        tracking_uri=tracking_uri,
        artifact_root=artifact_root,
        tags={**run_tags(spec, plan, correlation_id, run_id), **version_tags(spec_version)},
    )
    train = _train_on_spark if plan.family == "spark" else _train_in_process
    registered, score_basis, score, details, evidence = train(inputs, spark)
    from aurora_pipelines.registry.mlflow_registry import run_experiment_id

    # With mlflow_run_id, the address of the run's page in the MLflow UI (defs/assets/links.py).
    details["mlflow_experiment_id"] = run_experiment_id(tracking_uri, registered.run_id)
    if eda_dir is not None:
        from aurora_pipelines.registry.eda_artifacts import log_eda_artifacts

        logged = log_eda_artifacts(tracking_uri, registered.run_id, eda_dir)
        details["eda_artifacts"] = len(logged)
    metric = plan.primary_metric
    greater_is_better = metric_direction(metric, spec.problem_type.value)
    bound = resolve_bound(
        spec,
        metric,
        greater_is_better,
        evidence.targets,
        evidence.fold_scores,
        metric_pinned=plan.sources.get("primary_metric") == "spec",
    )
    from aurora_pipelines.registry.mlflow_registry import set_version_tags

    # UAT judges the version against the same bound (registry/model_version tags).
    set_version_tags(tracking_uri, registered.name, registered.version, bound.as_tags())
    candidate = governance.record_candidate(
        experiment=spec.name,
        model_name=registered.name,
        model_version=registered.version,
        model_digest=registered.digest,
        primary_metric=metric,
        metric_value=score,
        mlflow_run_id=registered.run_id,
        dagster_run_id=run_id,
        correlation_id=correlation_id,
        created_by=actor,
    )
    return TrainingOutcome(
        registered=registered,
        candidate=candidate,
        family=plan.family,
        features_path=Path(features_path),
        features_version=features_version,
        primary_metric=metric,
        score=score,
        score_basis=score_basis,
        greater_is_better=greater_is_better,
        bound=bound,
        details=details,
    )


@dataclass(frozen=True)
class _BoundEvidence:
    """What a default bound is derived from: the targets trained on (the dummy baseline) and
    the chosen model's CV fold scores (the spread; None on a Spark holdout)."""

    targets: Any
    fold_scores: list[float] | None


@dataclass(frozen=True)
class _TrainingInputs:
    """What both families train from and register to; one place for the rules they share."""

    spec: ExperimentSpec
    plan: TrainingPlan
    features_path: Path
    features_version: int
    tracking_uri: str
    artifact_root: Path
    tags: dict[str, str]

    def sample_rule(self) -> dict[str, Any]:
        """Arguments of `sample_pandas` / `sample_spark`: both keep the same rows."""
        training = self.spec.training
        return {
            "limit": training.max_train_rows,
            "id_column": self.spec.id_column,
            "seed": training.seed,
            "experiment": self.spec.name,
        }

    def columns(self) -> dict[str, Any]:
        """Arguments of `train_experiment` / `train_spark` that name the table's roles."""
        spec = self.spec
        return {
            "target": spec.target,
            "problem_type": spec.problem_type.value,
            "id_column": spec.id_column,
            "time_column": spec.time_column,
        }

    def registration(self) -> dict[str, Any]:
        """Arguments of `log_and_register` / `log_and_register_spark` both families pass alike."""
        return {
            "tracking_uri": self.tracking_uri,
            "artifact_root": self.artifact_root,
            "experiment_name": self.spec.name,
            "registered_model_name": self.spec.name,
            "feature_table": str(self.features_path),
            "feature_table_version": self.features_version,
            "tags": self.tags,
            "problem_type": self.spec.problem_type.value,
            "primary_metric": self.plan.primary_metric,
        }


def _train_in_process(
    inputs: _TrainingInputs, spark: Callable[[], SparkSession]
) -> tuple[RegisteredModel, str, float, MetadataDict, _BoundEvidence]:
    """sklearn / torch: CV + Optuna on a pandas frame, scored by the mean CV metric."""
    from aurora_pipelines.registry.mlflow_registry import log_and_register
    from aurora_pipelines.training.leaderboard import leaderboard_markdown
    from aurora_pipelines.training.plots import metadata_plots
    from aurora_pipelines.training.trainer import train_experiment

    plan = inputs.plan
    frame = sample_pandas(delta.read_pandas(inputs.features_path), **inputs.sample_rule())
    result = train_experiment(frame, **inputs.columns(), **plan.train_kwargs())
    registered = log_and_register(
        result,
        sample_input=frame[result.feature_columns].head(5),
        training_data=frame,
        **inputs.registration(),
    )
    details: MetadataDict = {
        "best_algorithm": result.best_algorithm,
        "best_params": JsonValue(result.best_params),
        "primary_metric": plan.primary_metric,
        "validation": result.validation,
        "calibration": result.calibration,
        "trials": len(result.trials),
        "training_rows": result.n_rows,
        "holdout_rows": result.n_holdout_rows,
        "mode": result.mode,
        "leaderboard": Markdown(leaderboard_markdown(result.leaderboard, plan.primary_metric)),
        **{f"cv_{name}": float(value) for name, value in result.metrics.items()},
        **{f"holdout_{name}": float(v) for name, v in result.holdout_metrics.items()},
    }
    if result.decision_threshold is not None:
        details["decision_threshold"] = float(result.decision_threshold)
    details.update(metadata_plots(result))
    folds = result.cv.get(result.best_algorithm, {}).get(plan.primary_metric)
    evidence = _BoundEvidence(
        frame[inputs.spec.target].to_numpy(), [float(v) for v in folds] if folds else None
    )
    return registered, "mean CV", float(result.metrics[plan.primary_metric]), details, evidence


def _train_on_spark(
    inputs: _TrainingInputs, spark: Callable[[], SparkSession]
) -> tuple[RegisteredModel, str, float, MetadataDict, _BoundEvidence]:
    """Spark MLlib: the feature table is read and trained on Spark, scored on the holdout."""
    from aurora_pipelines.registry.mlflow_registry import log_and_register_spark
    from aurora_pipelines.training.spark_ml import train_spark

    plan = inputs.plan
    frame = sample_spark(delta.read_spark(spark(), inputs.features_path), **inputs.sample_rule())
    result = train_spark(
        frame,
        **inputs.columns(),
        algorithms=plan.algorithms,
        primary_metric=plan.primary_metric,
        seed=plan.seed,
        holdout_fraction=plan.holdout_fraction or 0.2,
    )
    registered = log_and_register_spark(
        result,
        training_data=frame,
        decision_threshold=plan.threshold,
        **inputs.registration(),
    )
    details: MetadataDict = {
        "family": "spark",
        "best_algorithm": result.best_algorithm,
        "primary_metric": plan.primary_metric,
        "validation": "holdout",
        "training_rows": result.n_train_rows,
        "holdout_rows": result.n_holdout_rows,
        "leaderboard": Markdown(pd.DataFrame(result.leaderboard).to_markdown(index=False)),
        "fit_seconds": JsonValue(result.fit_seconds),
        **{f"holdout_{name}": float(value) for name, value in result.metrics.items()},
    }
    if plan.threshold is not None:
        details["decision_threshold"] = float(plan.threshold)
    return (
        registered,
        "holdout",
        float(result.metrics[plan.primary_metric]),
        details,
        _BoundEvidence(_target_summary(frame, inputs.spec), None),
    )


def _target_summary(frame: Any, spec: ExperimentSpec) -> Any:
    """The target as a small numpy array with the table's distribution, computed on Spark:
    class counts expanded to at most 10,000 rows (classification), or a 10,000-row sample."""
    import numpy as np
    from pyspark.sql import functions as F

    if spec.problem_type.value == "classification":
        counts = frame.groupBy(spec.target).count().collect()
        total = sum(r["count"] for r in counts) or 1
        return np.concatenate(
            [
                np.repeat(str(r[spec.target]), max(1, round(10_000 * r["count"] / total)))
                for r in counts
            ]
        )
    sample = frame.select(F.col(spec.target).cast("double").alias("y")).dropna()
    rows = sample.orderBy(F.rand(7)).limit(10_000).collect()
    return np.asarray([r["y"] for r in rows], dtype=float)
