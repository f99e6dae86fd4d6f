"""MLflow tracking and registry: log a training result, register it, move aliases, load it back.

Every function takes the tracking URI explicitly (the same URI serves the registry), so
nothing depends on MLflow's process-global state; the one fluent call that needs it
(`mlflow.sklearn.log_model`) runs inside `_tracking`, which restores the previous URI.

Models are stored with skops, never pickle. The types skops must trust are computed from
the model itself and must fall inside `TRUSTED_TYPE_PREFIXES`; loading re-checks them
against that list (not only against the list the model's own MLmodel file declares) and
verifies the artifact digest first, so a tampered artifact is refused before it is read.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema

from aurora_pipelines.errors import IntegrityError, NotFound, ServiceUnavailable
from aurora_pipelines.registry.digest import (
    artifact_digest,
    download_version_artifacts,
    model_version_digest,
)
from aurora_pipelines.registry.model_version import PRIMARY_METRIC_TAG, PROBLEM_TYPE_TAG
from aurora_pipelines.training.leaderboard import leaderboard_markdown
from aurora_pipelines.training.plots import residual_summary, write_plots
from aurora_pipelines.training.trainer import TrainingResult, get_metric

MODEL_ARTIFACT_NAME = "model"
DIGEST_TAG = "digest"
FEATURE_TABLE_TAG = "feature_table"
FEATURE_TABLE_VERSION_TAG = "feature_table_version"
THRESHOLD_TAG = "decision_threshold"
PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's own tag: the UI nests the run under it
# Only library code may be deserialised: sklearn estimators, numpy/scipy containers and
# Aurora's own preprocessing transformers.
TRUSTED_TYPE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "aurora_pipelines.training.")
_MLFLOW_BATCH = 900  # MLflow accepts at most 1000 metrics per log_batch call


@dataclass(frozen=True)
class RegisteredModel:
    """One registered model version and what it was registered with."""

    name: str
    version: str
    run_id: str
    model_uri: str
    digest: str
    metrics: dict[str, float] = field(default_factory=dict)


def _client(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@contextmanager
def _tracking(tracking_uri: str) -> Iterator[None]:
    # mlflow.set_tracking_uri also sets MLFLOW_TRACKING_URI; restore exactly what was there.
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # None unsets it


def skops_trusted_types(model: Any) -> list[str]:
    """The non-default types skops needs to load `model`; refuses any outside the allow-list."""
    import skops.io

    types = sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
    _check_trusted(types, what=f"{type(model).__name__} model")
    return types


def _check_trusted(types: list[str], *, what: str) -> None:
    from aurora_pipelines.training.boosting import TRUSTED_BOOSTING_TYPES

    unexpected = [
        t
        for t in types
        if not t.startswith(TRUSTED_TYPE_PREFIXES) and t not in TRUSTED_BOOSTING_TYPES
    ]
    if unexpected:
        raise IntegrityError(
            f"{what} needs types outside Aurora's trusted list ({', '.join(unexpected)}); "
            "only sklearn/numpy/scipy/aurora_pipelines.training types and the LightGBM/XGBoost "
            "estimator and booster classes may be deserialised"
        )


def _pip_requirements(trusted: list[str] | None = None) -> list[str]:
    # Explicit pins: MLflow's requirement inference re-imports the model in a subprocess,
    # which costs ~10 s per model here and pins everything the venv happens to import.
    from importlib.metadata import version

    from aurora_pipelines.training.boosting import REQUIREMENTS

    pins = ["mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy"]
    # A LightGBM / XGBoost model needs its library where it is loaded (from its types).
    pins += [
        pkg
        for lib, pkg in REQUIREMENTS.items()
        if any(t.startswith(f"{lib}.") for t in trusted or [])
    ]
    return [f"{pkg}=={version(pkg)}" for pkg in pins]


def _experiment_id(client: MlflowClient, name: str, artifact_root: Path) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    # A tracking server owns its artifact store (S3 behind the cluster's server): a local
    # directory would be driver-local, unreadable by other processes. Embedded stores keep
    # their artifacts under AURORA_HOME.
    server = client.tracking_uri.startswith(("http://", "https://"))
    location = None if server else (Path(artifact_root).resolve() / name).as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:
        # Another process created it between our lookup and create.
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def _signature(features: pd.DataFrame, model: Any) -> ModelSignature:
    """Signature inferred from real rows, with every input optional.

    The pipeline imputes every feature, so a null is valid input; MLflow would otherwise
    mark a column required whenever the sample happened to have no nulls in it.
    """
    with warnings.catch_warnings():
        # Integer columns stay `long` on purpose (MLflow refuses int64 input for a double
        # column); its hint about missing integers is known and would repeat on every run.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        inferred = infer_signature(features, model.predict(features.head(100)))
    inputs = Schema([ColSpec(col.type, col.name, required=False) for col in inferred.inputs.inputs])
    return ModelSignature(inputs=inputs, outputs=inferred.outputs)


def _description(result: TrainingResult, feature_table: str, feature_table_version: int) -> str:
    metric = get_metric(result.primary_metric, result.problem_type)
    direction = "highest" if metric.greater_is_better else "lowest"
    board = "; ".join(
        f"{row['algorithm']} {row[result.primary_metric]:.4f}" for row in result.leaderboard
    )
    if result.validation == "time":
        scheme = "time-ordered (expanding window) "
    else:
        scheme = "stratified " if result.problem_type == "classification" else ""
    tuned = sum(1 for t in result.trials if t.state == "COMPLETE")
    text = (
        f"{result.best_algorithm} chosen for the {direction} mean {result.primary_metric} "
        f"({result.primary_score:.4f}) over {result.cv_folds}-fold {scheme}cross-validation "
        f"(seed {result.seed}, {tuned} configurations tried) among: {board}. "
    )
    if result.n_holdout_rows:
        holdout = result.holdout_metrics.get(result.primary_metric)
        text += (
            f"Fit on {result.n_train_rows} of {result.n_rows} rows of {feature_table} (Delta "
            f"version {feature_table_version}); the other {result.n_holdout_rows} rows, never "
            f"used for selection or tuning, score {result.primary_metric} {holdout:.4f}."
        )
    else:
        text += (
            f"Refit on all {result.n_rows} rows of "
            f"{feature_table} (Delta version {feature_table_version})."
        )
    if result.calibration != "none":
        text += f" Probabilities calibrated ({result.calibration})."
    if result.decision_threshold is not None:
        text += (
            f" Decision threshold {result.decision_threshold:.4f} "
            f"(chosen by {result.threshold_metric})."
        )
    return text


def _kind_tags(result: Any, problem_type: str | None, primary_metric: str | None) -> dict[str, str]:
    """The version tags naming what the plan trained: its problem type and primary metric."""
    return {
        PROBLEM_TYPE_TAG: problem_type or result.problem_type,
        PRIMARY_METRIC_TAG: primary_metric or result.primary_metric,
    }


def _create_version(
    client: MlflowClient,
    name: str,
    info: Any,
    run_id: str,
    tags: dict[str, str],
    description: str,
) -> Any:
    """The logged model `info` (a ModelInfo) as a new version of `name`, created if missing."""
    _ensure_registered_model(client, name)
    return client.create_model_version(
        name=name,
        source=info.model_uri,
        run_id=run_id,
        tags=tags,
        description=description,
        model_id=info.model_id,
    )


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    """Create the registered model on its first version; later versions reuse it."""
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def _stamp_digest(
    client: MlflowClient,
    tracking_uri: str,
    name: str,
    version: str,
    run_id: str,
    metrics: dict[str, float],
) -> RegisteredModel:
    """Tag the new version with the digest of its stored artifacts (what approvals bind to)."""
    digest = model_version_digest(tracking_uri, name, version)
    client.set_model_version_tag(name, version, DIGEST_TAG, digest)
    return RegisteredModel(
        name=name,
        version=str(version),
        run_id=run_id,
        model_uri=f"models:/{name}/{version}",
        digest=digest,
        metrics=metrics,
    )


def log_and_register(
    result: TrainingResult,
    *,
    tracking_uri: str,
    artifact_root: Path,
    experiment_name: str,
    registered_model_name: str,
    sample_input: pd.DataFrame,
    feature_table: str,
    feature_table_version: int,
    tags: dict[str, str],
    training_data: pd.DataFrame | None = None,
    problem_type: str | None = None,
    primary_metric: str | None = None,
) -> RegisteredModel:
    """Log `result` as an MLflow run with its model, register it and tag it with its digest.

    `training_data` (optional, defaults to `sample_input`) is recorded as the run's dataset
    input, so the dataset digest and schema describe what the model was trained on.
    `problem_type` and `primary_metric` (default: the result's) become the version tags
    every consumer of the version reads (registry/model_version.py).
    """
    with tracking_server_reachable(tracking_uri):
        return _log_and_register(
            result,
            tracking_uri=tracking_uri,
            artifact_root=artifact_root,
            experiment_name=experiment_name,
            registered_model_name=registered_model_name,
            sample_input=sample_input,
            feature_table=feature_table,
            feature_table_version=feature_table_version,
            tags=tags,
            training_data=training_data,
            problem_type=problem_type,
            primary_metric=primary_metric,
        )


# What MLflow's REST client says when the server is down or drops the connection.
UNREACHABLE_MARKERS = (
    "Max retries exceeded",
    "Connection refused",
    "Failed to establish a new connection",
    "Connection aborted",
    "RemoteDisconnected",
    "Read timed out",
)


@contextmanager
def tracking_server_reachable(tracking_uri: str) -> Iterator[None]:
    """ServiceUnavailable (retried by the step's policy) when the tracking server is down."""
    try:
        yield
    except Exception as exc:
        text = str(exc)
        if not tracking_uri.startswith(("http://", "https://")) or not any(
            marker in text for marker in UNREACHABLE_MARKERS
        ):
            raise
        raise ServiceUnavailable(
            f"the MLflow tracking server {tracking_uri} cannot be reached "
            f"({type(exc).__name__}); start it or fix AURORA_MLFLOW_TRACKING_URI, then rerun: "
            "finished tuning trials are kept in their Optuna study and are not run again"
        ) from None


def complete_half_registered(tracking_uri: str, name: str) -> list[str]:
    """Stamp the digest on versions of `name` that lack it, and return them.

    A version is created with all its tags but the digest, which needs the stored artifacts and
    so comes in a second call: a process killed between the two leaves a version no approval
    can bind to. Its artifacts were complete before it was created, so the next registration
    finishes it instead of leaving it half-registered.
    """
    client = _client(tracking_uri)
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return []
        raise
    completed = []
    for mv in versions:
        if DIGEST_TAG not in (mv.tags or {}):
            digest = model_version_digest(tracking_uri, name, str(mv.version))
            client.set_model_version_tag(name, str(mv.version), DIGEST_TAG, digest)
            completed.append(str(mv.version))
    return completed


def _log_and_register(
    result: TrainingResult,
    *,
    tracking_uri: str,
    artifact_root: Path,
    experiment_name: str,
    registered_model_name: str,
    sample_input: pd.DataFrame,
    feature_table: str,
    feature_table_version: int,
    tags: dict[str, str],
    training_data: pd.DataFrame | None,
    problem_type: str | None,
    primary_metric: str | None,
) -> RegisteredModel:
    client = _client(tracking_uri)
    complete_half_registered(tracking_uri, registered_model_name)
    experiment_id = _experiment_id(client, experiment_name, artifact_root)
    reference = training_data if training_data is not None else sample_input
    signature = _signature(reference[result.feature_columns], result.model)
    example = sample_input[result.feature_columns].head(5)
    trusted = skops_trusted_types(result.model)
    lineage = {
        FEATURE_TABLE_TAG: feature_table,
        FEATURE_TABLE_VERSION_TAG: str(feature_table_version),
    }
    run_tags = {**tags, **lineage, "best_algorithm": result.best_algorithm}
    version_tags = {
        **tags,
        **lineage,
        **_kind_tags(result, problem_type, primary_metric),
        "family": result.family,
        "calibration": result.calibration,
    }
    if result.decision_threshold is not None:
        version_tags[THRESHOLD_TAG] = f"{result.decision_threshold:.6f}"

    with _tracking(tracking_uri):
        with mlflow.start_run(experiment_id=experiment_id) as run:
            run_id = run.info.run_id
            _log_run_data(client, run_id, result, lineage, run_tags)
            with warnings.catch_warnings():
                # A local path matches MLflow's local source class twice; the warning is noise.
                warnings.filterwarnings("ignore", message="The specified dataset source")
                warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
                dataset = mlflow.data.from_pandas(
                    training_data if training_data is not None else sample_input,
                    source=feature_table,
                    name=f"{Path(feature_table).name}@v{feature_table_version}",
                    targets=result.target if training_data is not None else None,
                )
                # The dataset's schema is inferred lazily, here: keep it under the filter.
                mlflow.log_input(dataset, context="training", tags=lineage)
            with tempfile.TemporaryDirectory(prefix="aurora-run-") as tmp:
                board = Path(tmp) / "leaderboard.json"
                board.write_text(json.dumps(result.leaderboard, indent=2))
                columns = Path(tmp) / "feature_columns.json"
                columns.write_text(json.dumps(result.feature_columns, indent=2))
                client.log_artifact(run_id, str(board))
                # Base vs tuned side by side, readable in MLflow's artifact viewer.
                table = Path(tmp) / "leaderboard.md"
                table.write_text(leaderboard_markdown(result.leaderboard, result.primary_metric))
                client.log_artifact(run_id, str(table))
                client.log_artifact(run_id, str(columns))
                if result.feature_importance:
                    importance = Path(tmp) / "feature_importance.json"
                    importance.write_text(json.dumps(result.feature_importance, indent=2))
                    client.log_artifact(run_id, str(importance))
                for plot in write_plots(result, Path(tmp) / "plots"):
                    client.log_artifact(run_id, str(plot), artifact_path="plots")
            _log_trials(client, experiment_id, run_id, result, tags)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
                info = mlflow.sklearn.log_model(
                    result.model,
                    name=MODEL_ARTIFACT_NAME,
                    signature=signature,
                    input_example=example,
                    serialization_format="skops",
                    skops_trusted_types=trusted,
                    pip_requirements=_pip_requirements(trusted),
                )

        # The registry resolves a `models:/<model_id>` source through MLflow's global
        # tracking URI, so registration stays inside `_tracking` too.
        version = _create_version(
            client,
            registered_model_name,
            info,
            run_id,
            version_tags,
            _description(result, feature_table, feature_table_version),
        )
    return _stamp_digest(
        client, tracking_uri, registered_model_name, version.version, run_id, dict(result.metrics)
    )


def _log_run_data(
    client: MlflowClient,
    run_id: str,
    result: TrainingResult,
    lineage: dict[str, str],
    run_tags: dict[str, str],
) -> None:
    params = {
        **{k: v for k, v in result.params.items()},
        **lineage,
        "problem_type": result.problem_type,
        "target": result.target,
        "primary_metric": result.primary_metric,
        "n_rows": result.n_rows,
        "n_features": len(result.feature_columns),
        "candidates": ",".join(result.cv),
        "validation": result.validation,
        "n_train_rows": result.n_train_rows,
        "calibration": result.calibration,
        "class_weight": result.class_weight or "none",
        "family": result.family,
        **{f"hp_{name}": value for name, value in result.best_params.items()},
    }
    if result.decision_threshold is not None:
        params[THRESHOLD_TAG] = result.decision_threshold
        params["threshold_metric"] = result.threshold_metric
    metrics = [Metric(name, value, 0, 0) for name, value in result.metrics.items()]
    metrics += [Metric(f"holdout_{k}", v, 0, 0) for k, v in result.holdout_metrics.items()]
    metrics += [Metric(k, v, 0, 0) for k, v in residual_summary(result).items()]
    # Per-fold values of the chosen algorithm as steps: MLflow's UI charts them per fold.
    for name, values in result.cv[result.best_algorithm].items():
        metrics += [Metric(f"cv_{name}", value, 0, step) for step, value in enumerate(values)]
    client.log_batch(
        run_id,
        params=[Param(k, str(v)) for k, v in params.items()],
        tags=[RunTag(k, str(v)) for k, v in run_tags.items()],
    )
    for start in range(0, len(metrics), _MLFLOW_BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + _MLFLOW_BATCH])


def log_and_register_spark(
    result: Any,
    *,
    tracking_uri: str,
    artifact_root: Path,
    experiment_name: str,
    registered_model_name: str,
    tags: dict[str, str],
    training_data: Any = None,
    feature_table: str | None = None,
    feature_table_version: int | None = None,
    decision_threshold: float | None = None,
    problem_type: str | None = None,
    primary_metric: str | None = None,
) -> RegisteredModel:
    """Log a `SparkTrainingResult` with `mlflow.spark` (PipelineModel format) and register it.

    `training_data` (the Spark DataFrame trained on) gives the run its dataset input (schema
    and lineage, nothing collected) and the model its signature, inferred from five rows.
    `problem_type` and `primary_metric` (default: the result's) are tagged on the version.
    """
    import mlflow.spark

    client = _client(tracking_uri)
    experiment_id = _experiment_id(client, experiment_name, artifact_root)
    lineage = {}
    if feature_table is not None:
        lineage = {
            FEATURE_TABLE_TAG: feature_table,
            FEATURE_TABLE_VERSION_TAG: str(feature_table_version),
        }
    tags = {**tags, **lineage}
    version_tags = {**tags, **_kind_tags(result, problem_type, primary_metric), "family": "spark"}
    if decision_threshold is not None:
        version_tags[THRESHOLD_TAG] = f"{decision_threshold:.6f}"
    signature = None
    if training_data is not None:
        sample = training_data.select(*result.feature_columns).limit(5).toPandas()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(sample)
    with _tracking(tracking_uri), tempfile.TemporaryDirectory(prefix="aurora-spark-") as tmp:
        with mlflow.start_run(experiment_id=experiment_id) as run:
            run_id = run.info.run_id
            if training_data is not None and feature_table is not None:
                with warnings.catch_warnings():
                    # The schema is inferred lazily, in log_input: keep it under the filter.
                    warnings.filterwarnings(
                        "ignore", message="Hint: Inferred schema contains integer"
                    )
                    dataset = mlflow.data.from_spark(
                        training_data,
                        path=feature_table,
                        name=f"{Path(feature_table).name}@v{feature_table_version}",
                        targets=result.target,
                    )
                    mlflow.log_input(dataset, context="training", tags=lineage)
            params = {
                "algorithm": result.best_algorithm,
                "family": "spark",
                "problem_type": result.problem_type,
                "target": result.target,
                "primary_metric": result.primary_metric,
                "n_train_rows": result.n_train_rows,
                "n_holdout_rows": result.n_holdout_rows,
                "seed": result.seed,
                "n_features": len(result.feature_columns),
                "candidates": ",".join(r["algorithm"] for r in result.leaderboard),
                **lineage,
            }
            if decision_threshold is not None:
                params[THRESHOLD_TAG] = decision_threshold
            client.log_batch(
                run_id,
                metrics=[Metric(f"holdout_{k}", v, 0, 0) for k, v in result.metrics.items()],
                params=[Param(k, str(v)) for k, v in params.items()],
                tags=[RunTag(k, str(v)) for k, v in tags.items()],
            )
            board = Path(tmp) / "leaderboard.json"
            board.write_text(json.dumps(result.leaderboard, indent=2))
            client.log_artifact(run_id, str(board))
            columns = Path(tmp) / "feature_columns.json"
            columns.write_text(json.dumps(result.feature_columns, indent=2))
            client.log_artifact(run_id, str(columns))
            info = mlflow.spark.log_model(
                result.model,
                artifact_path=MODEL_ARTIFACT_NAME,
                signature=signature,
                dfs_tmpdir=str(Path(tmp) / "dfs"),
                pip_requirements=[
                    f"pyspark=={_version('pyspark')}",
                    f"mlflow=={_version('mlflow')}",
                ],
            )
        version = _create_version(
            client,
            registered_model_name,
            info,
            run_id,
            version_tags,
            (
                f"{result.best_algorithm} (Spark MLlib) chosen for the best holdout "
                f"{result.primary_metric} ({result.metrics[result.primary_metric]:.4f}) on "
                f"{result.n_holdout_rows} held-out rows, among: "
                + "; ".join(
                    f"{r['algorithm']} {r[result.primary_metric]:.4f}" for r in result.leaderboard
                )
            ),
        )
    return _stamp_digest(
        client,
        tracking_uri,
        registered_model_name,
        version.version,
        run_id,
        {f"holdout_{k}": v for k, v in result.metrics.items()},
    )


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def _log_trials(
    client: MlflowClient,
    experiment_id: str,
    parent_run_id: str,
    result: TrainingResult,
    tags: dict[str, str],
) -> None:
    """Each tuning trial as a nested run under the training run (the MLflow UI folds them)."""
    from mlflow.entities import RunStatus

    for trial in result.trials:
        started = int((trial.started_at or 0) * 1000) or None
        run = client.create_run(
            experiment_id,
            start_time=started,
            tags={
                **tags,
                PARENT_RUN_TAG: parent_run_id,
                "mlflow.runName": f"{trial.algorithm}-trial-{trial.number}",
                "aurora.trial_state": trial.state,
                "aurora.algorithm": trial.algorithm,
            },
        )
        params = [Param("algorithm", trial.algorithm), Param("trial", str(trial.number))]
        params += [Param(k, str(v)) for k, v in trial.params.items()]
        metrics = [
            Metric(f"cv_{name}", value, 0, step)
            for name, values in trial.folds.items()
            for step, value in enumerate(values)
        ]
        metrics += [Metric(name, float(np.mean(v)), 0, 0) for name, v in trial.folds.items() if v]
        metrics += [
            Metric(f"running_{result.primary_metric}", value, 0, step)
            for step, value in enumerate(trial.intermediate)
        ]
        client.log_batch(run.info.run_id, params=params)
        for start in range(0, len(metrics), _MLFLOW_BATCH):
            client.log_batch(run.info.run_id, metrics=metrics[start : start + _MLFLOW_BATCH])
        ended = started + int((trial.duration_seconds or 0) * 1000) if started else None
        status = RunStatus.to_string(
            RunStatus.FINISHED if trial.state in ("COMPLETE", "PRUNED") else RunStatus.FAILED
        )
        client.set_terminated(run.info.run_id, status=status, end_time=ended)


def decision_threshold(tracking_uri: str, name: str, version: str) -> float | None:
    """The decision threshold registered with a classifier version, if any."""
    value = _model_version(_client(tracking_uri), name, version).tags.get(THRESHOLD_TAG)
    return float(value) if value else None


def _model_version(client: MlflowClient, name: str, version: str) -> Any:
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise NotFound(
            f"model '{name}' has no version {version}; "
            "check the name and version in the MLflow UI or `aurora models list`"
        ) from exc


def set_alias(tracking_uri: str, name: str, alias: str, version: str) -> None:
    """Point alias `alias` (e.g. `staging`, `champion`) of model `name` at `version`."""
    client = _client(tracking_uri)
    _model_version(client, name, version)
    client.set_registered_model_alias(name, alias, str(version))


def get_alias_version(tracking_uri: str, name: str, alias: str) -> str | None:
    """The version alias `alias` points at, or None if the alias (or model) does not exist."""
    try:
        return str(_client(tracking_uri).get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def download_model(tracking_uri: str, name: str, version: str, dest: Path) -> Path:
    """Download model version artifacts into `dest`; returns the model directory."""
    return download_version_artifacts(tracking_uri, name, version, dest)


def load_model(tracking_uri: str, name: str, version: str) -> Any:
    """Load a registered sklearn model version after checking its digest and trusted types."""
    import skops.io

    client = _client(tracking_uri)
    expected = _model_version(client, name, version).tags.get(DIGEST_TAG)
    with tempfile.TemporaryDirectory(prefix="aurora-load-") as tmp:
        local = download_version_artifacts(tracking_uri, name, version, Path(tmp))
        if expected and artifact_digest(local) != expected:
            raise IntegrityError(
                f"model '{name}' version {version}: artifacts do not match the registered "
                f"digest {expected}; the artifact store was modified — re-register the model"
            )
        flavors = Model.load(str(local)).flavors
        if "sklearn" not in flavors and "spark" in flavors:
            # Spark's own format (JSON + Parquet), read by PipelineModel.load: no pickle.
            from aurora_pipelines.training.spark_ml import load_spark_model

            return load_spark_model(local / flavors["spark"]["model_data"])
        flavor = flavors["sklearn"]
        if flavor.get("serialization_format") != "skops":
            raise IntegrityError(
                f"model '{name}' version {version} is not stored with skops "
                f"({flavor.get('serialization_format')}); Aurora loads only skops models"
            )
        trusted = list(flavor.get("skops_trusted_types") or [])
        _check_trusted(trusted, what=f"model '{name}' version {version}")
        return skops.io.load(local / flavor["pickled_model"], trusted=trusted)


def _run_metrics(client: MlflowClient, run_id: str | None) -> dict[str, float]:
    if not run_id:
        return {}
    metrics = client.get_run(run_id).data.metrics
    # Per-fold series are `cv_*`; the run's summary metrics are the CV means.
    return {k: float(v) for k, v in metrics.items() if not k.startswith("cv_")}


def run_experiment_id(tracking_uri: str, run_id: str) -> str:
    """The MLflow experiment a run belongs to (its web page's address needs it)."""
    return _client(tracking_uri).get_run(run_id).info.experiment_id


def get_model_version(tracking_uri: str, name: str, version: str) -> RegisteredModel:
    """One registered model version with its digest and CV metrics; NotFound if missing."""
    client = _client(tracking_uri)
    mv = _model_version(client, name, version)
    return RegisteredModel(
        name=name,
        version=str(mv.version),
        run_id=mv.run_id or "",
        model_uri=f"models:/{name}/{mv.version}",
        digest=mv.tags.get(DIGEST_TAG, ""),
        metrics=_run_metrics(client, mv.run_id),
    )


def latest_version(tracking_uri: str, name: str) -> RegisteredModel | None:
    """The highest-numbered version of model `name`, or None if it has none."""
    client = _client(tracking_uri)
    # The name goes into a filter string: escape quotes so a name cannot alter the query.
    escaped = name.replace("'", "\\'")
    versions = client.search_model_versions(f"name = '{escaped}'")
    if not versions:
        return None
    newest = max(versions, key=lambda mv: int(mv.version))
    return get_model_version(tracking_uri, name, str(newest.version))


def model_signature(tracking_uri: str, name: str, version: str) -> ModelSignature:
    """The MLflow signature of a registered version (its MLmodel file; nothing else is read)."""
    with _tracking(tracking_uri):
        info = mlflow.models.get_model_info(f"models:/{name}/{version}")
    if info.signature is None:
        raise IntegrityError(f"model {name} v{version} has no signature; re-register it")
    return info.signature


def run_params(tracking_uri: str, run_id: str | None) -> dict[str, str]:
    """The parameters of the run that logged a version ({} without a run)."""
    if not run_id:
        return {}
    return dict(_client(tracking_uri).get_run(run_id).data.params)


def version_tags(tracking_uri: str, name: str, version: str) -> dict[str, str]:
    """All tags of a model version (lineage, digest, caller tags)."""
    return dict(_model_version(_client(tracking_uri), name, version).tags)


def set_version_tags(tracking_uri: str, name: str, version: str, tags: dict[str, str]) -> None:
    """Add `tags` to a registered model version (e.g. the bound it was judged against)."""
    client = _client(tracking_uri)
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, value)
