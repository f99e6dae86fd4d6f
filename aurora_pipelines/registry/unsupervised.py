"""Log and register an unsupervised training result: the same run, version tags, lineage,
skops model and digest as a supervised one (mlflow_registry.py), with the evidence of its
own kind: the k / explained-variance curve and its plot, the cluster profiles or score
distribution (`report.json`), and for clustering the training assignment of every id
(`training_assignment.parquet`, what UAT compares the staging model's assignment with)."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param, RunTag

from aurora_pipelines.registry.mlflow_registry import (
    FEATURE_TABLE_TAG,
    FEATURE_TABLE_VERSION_TAG,
    MODEL_ARTIFACT_NAME,
    RegisteredModel,
    _client,
    _create_version,
    _experiment_id,
    _kind_tags,
    _pip_requirements,
    _signature,
    _stamp_digest,
    _tracking,
    skops_trusted_types,
)
from aurora_pipelines.training.unsupervised.estimators import unsupervised_outputs
from aurora_pipelines.training.unsupervised.plots import write_unsupervised_plots
from aurora_pipelines.training.unsupervised.trainer import UnsupervisedResult

ASSIGNMENT_ARTIFACT = "training_assignment.parquet"
REPORT_ARTIFACT = "report.json"
SIGNATURE_ROWS = 10_000


def _description(result: UnsupervisedResult, feature_table: str, version: int) -> str:
    board = "; ".join(
        f"{row['algorithm']} {row.get(result.primary_metric, '')}" for row in result.leaderboard
    )
    params = result.params
    if result.problem_type == "clustering":
        text = (
            f"{result.best_algorithm} with k={params.get('k')} chosen by silhouette "
            f"{result.primary_score:.4f} on a seeded sample of {result.search_rows} rows"
        )
    elif result.problem_type == "dimensionality_reduction":
        text = (
            f"{result.best_algorithm} keeping {params.get('components')} components "
            f"({result.primary_score:.1%} of the variance)"
        )
    else:
        text = (
            f"{result.best_algorithm} (contamination {params.get('contamination', 0):.4f}, "
            f"{params.get('contamination_source')})"
        )
    return (
        f"{text}, among: {board}. Fit on {result.n_rows} rows of {feature_table} "
        f"(Delta version {version})."
    )


def log_and_register_unsupervised(
    result: UnsupervisedResult,
    *,
    tracking_uri: str,
    artifact_root: Path,
    experiment_name: str,
    registered_model_name: str,
    training_data: pd.DataFrame,
    feature_table: str,
    feature_table_version: int,
    tags: dict[str, str],
    id_column: str | None = None,
) -> RegisteredModel:
    """Log `result` as an MLflow run, register its model and stamp the version's digest."""
    client = _client(tracking_uri)
    experiment_id = _experiment_id(client, experiment_name, artifact_root)
    features = training_data[result.feature_columns]
    # Types only (every input is optional): a seeded sample infers them; MLflow's null scan
    # of all rows took 32 s on 200k x 20 (measured).
    signature = _signature(
        features.sample(n=min(SIGNATURE_ROWS, len(features)), random_state=0), result.model
    )
    trusted = skops_trusted_types(result.model)
    lineage = {
        FEATURE_TABLE_TAG: feature_table,
        FEATURE_TABLE_VERSION_TAG: str(feature_table_version),
    }
    version_tags = {
        **tags,
        **lineage,
        **_kind_tags(result, result.problem_type, result.primary_metric),
        "family": result.family,
        "calibration": "none",
    }
    params = {
        **result.params,
        **lineage,
        "problem_type": result.problem_type,
        "primary_metric": result.primary_metric,
        "n_rows": result.n_rows,
        "n_features": len(result.feature_columns),
        "search_rows": result.search_rows,
        "candidates": ",".join(r["algorithm"] for r in result.leaderboard),
        "family": result.family,
    }
    with _tracking(tracking_uri):
        with mlflow.start_run(experiment_id=experiment_id) as run:
            run_id = run.info.run_id
            client.log_batch(
                run_id,
                params=[Param(k, str(v)) for k, v in params.items()],
                tags=[RunTag(k, str(v)) for k, v in {**tags, **lineage}.items()],
                metrics=[Metric(k, float(v), 0, 0) for k, v in result.metrics.items()],
            )
            with tempfile.TemporaryDirectory(prefix="aurora-run-") as tmp:
                root = Path(tmp)
                files = {
                    "leaderboard.json": result.leaderboard,
                    "curve.json": result.curve,
                    "feature_columns.json": result.feature_columns,
                    REPORT_ARTIFACT: {**result.report, "warnings": result.warnings},
                }
                for name, data in files.items():
                    (root / name).write_text(json.dumps(data, indent=2, default=str))
                    client.log_artifact(run_id, str(root / name))
                if result.problem_type == "clustering" and id_column:
                    _, clusters, _ = unsupervised_outputs(result.model, features)
                    assignment = pd.DataFrame(
                        {
                            id_column: training_data[id_column].astype(str).to_numpy(),
                            "cluster": clusters.astype(np.int64),
                        }
                    )
                    assignment.to_parquet(root / ASSIGNMENT_ARTIFACT, index=False)
                    client.log_artifact(run_id, str(root / ASSIGNMENT_ARTIFACT))
                for plot in write_unsupervised_plots(result, root / "plots"):
                    client.log_artifact(run_id, str(plot), artifact_path="plots")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
                info = mlflow.sklearn.log_model(
                    result.model,
                    name=MODEL_ARTIFACT_NAME,
                    signature=signature,
                    input_example=features.head(5),
                    serialization_format="skops",
                    skops_trusted_types=trusted,
                    pip_requirements=_pip_requirements(),
                )
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


def training_assignment(tracking_uri: str, run_id: str) -> pd.DataFrame | None:
    """The (id, cluster) rows a clustering version assigned at training, if it logged them."""
    try:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=ASSIGNMENT_ARTIFACT, tracking_uri=tracking_uri
        )
    except Exception:  # not a clustering run, or trained without an id column
        return None
    return pd.read_parquet(local)


def training_report(tracking_uri: str, run_id: str) -> dict:
    """The run's report.json (cluster profiles, components or score distribution)."""
    try:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=REPORT_ARTIFACT, tracking_uri=tracking_uri
        )
    except Exception:
        return {}
    return json.loads(Path(local).read_text())
