"""train/recommendations and train/model.

recommendations: ranked algorithms, metric and validation scheme for the feature table,
each with its reasons (JSON under AURORA_HOME + Markdown in the UI).
model: the plan (the spec's explicit training fields, the recommendation for the rest):
CV + Optuna tuning, holdout, calibration and threshold; logged and registered in MLflow.
"""

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from aurora_pipelines import lifecycle
from aurora_pipelines.lake import delta
from aurora_pipelines.specs import ExperimentSpec
from aurora_pipelines.defs.resources import AuroraResource

METRIC_CHECK = "metric_min"
RECOMMENDATIONS_FILE = "recommendations.json"


def _training_frame(spec: ExperimentSpec, frame: pd.DataFrame) -> pd.DataFrame:
    limit = spec.training.max_train_rows
    if limit and len(frame) > limit:
        frame = frame.sample(n=limit, random_state=spec.training.seed)
    return frame.reset_index(drop=True)


def _metric_text(spec: ExperimentSpec) -> str:
    if "primary_metric" in spec.training.model_fields_set:
        return spec.training.primary_metric
    return "primary metric (recommended)"


def build_training_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    key = dg.AssetKey(spec.key(*lifecycle.MODEL))
    minimum = spec.training.metric_min
    pinned = "algorithms" in spec.training.model_fields_set
    candidates = (
        ", ".join(spec.training.algorithms)
        if pinned
        else f"the top {spec.training.max_algorithms} recommended algorithms"
    )

    @dg.asset(
        key=spec.key(*lifecycle.RECOMMENDATIONS),
        deps=[spec.key(*lifecycle.FEATURES)],
        group_name=spec.name,
        kinds={"python", "json"},
        description="Ranked algorithms with reasons, the recommended metric, validation "
        "scheme and search spaces, from the feature table's characteristics.",
        owners=[f"team:{spec.team}"],
    )
    def recommendations(
        context: dg.AssetExecutionContext, aurora: AuroraResource
    ) -> dg.MaterializeResult:
        from aurora_pipelines.recommend import recommend_for_table, resolve_plan
        from aurora_pipelines.recommend.report import as_markdown, write_json

        features_path = aurora.lake_path(spec.name, *lifecycle.FEATURES)
        recommendation = recommend_for_table(features_path, spec)
        plan = resolve_plan(spec, recommendation)
        path = aurora.reports_path(spec.name, "train", RECOMMENDATIONS_FILE)
        write_json(
            recommendation,
            path,
            extra={
                "experiment": spec.name,
                "feature_table_version": delta.version(features_path),
                "plan": {k: v for k, v in plan.as_dict().items() if k != "hpo"},
            },
        )
        top = recommendation.algorithms[0]
        return dg.MaterializeResult(
            metadata={
                "recommendations": dg.MetadataValue.md(
                    as_markdown(recommendation, selected=plan.algorithms)
                ),
                "top_algorithm": top.algorithm,
                "recommended_metric": recommendation.primary_metric,
                "recommended_validation": recommendation.validation,
                "training_algorithms": ", ".join(plan.algorithms),
                "plan_sources": dg.MetadataValue.json(plan.sources),
                "rows": recommendation.characteristics.rows,
                "path": dg.MetadataValue.path(str(path)),
            }
        )

    @dg.asset(
        key=key,
        deps=[spec.key(*lifecycle.FEATURES), spec.key(*lifecycle.RECOMMENDATIONS)],
        group_name=spec.name,
        kinds={"sklearn", "optuna", "mlflow"},
        description=f"{spec.training.cv_folds}-fold CV with Optuna tuning over {candidates}; "
        "the best by the primary metric is calibrated, given a decision threshold, scored on "
        "the holdout and registered in MLflow.",
        owners=[f"team:{spec.team}"],
        check_specs=[
            dg.AssetCheckSpec(
                METRIC_CHECK,
                asset=key,
                blocking=True,
                description=f"Mean CV {_metric_text(spec)} is at least {minimum} "
                "(spec training.metric_min).",
            )
        ],
    )
    def model(context: dg.AssetExecutionContext, aurora: AuroraResource) -> dg.MaterializeResult:
        # Imported on use: mlflow and sklearn add seconds to every code-location load.
        from aurora_pipelines.recommend import optuna_storage_url, resolve_plan
        from aurora_pipelines.recommend.report import read_json
        from aurora_pipelines.registry.mlflow_registry import log_and_register
        from aurora_pipelines.training.trainer import get_metric, train_experiment

        features_path = aurora.lake_path(spec.name, *lifecycle.FEATURES)
        features_version = delta.version(features_path)
        recommendation_path = aurora.reports_path(spec.name, "train", RECOMMENDATIONS_FILE)
        recommendation = read_json(recommendation_path) if recommendation_path.exists() else None
        plan = resolve_plan(
            spec, recommendation, optuna_storage=optuna_storage_url(aurora.settings.root)
        )
        metric = plan.primary_metric
        tags = {
            "aurora.experiment": spec.name,
            "aurora.team": spec.team,
            "aurora.owner": spec.owner,
            "aurora.correlation_id": context.run_id,
            "aurora.dagster_run_id": context.run_id,
            "aurora.plan_sources": json.dumps(plan.sources, sort_keys=True),
        }
        if plan.family == "spark":
            return _train_on_spark(context, aurora, spec, plan, features_path, tags)
        frame = _training_frame(spec, delta.read_pandas(features_path))
        result = train_experiment(
            frame,
            target=spec.target,
            problem_type=spec.problem_type.value,
            id_column=spec.id_column,
            time_column=spec.time_column,
            **plan.train_kwargs(),
        )
        registered = log_and_register(
            result,
            tracking_uri=aurora.tracking_uri,
            artifact_root=aurora.mlflow_artifacts_dir(),
            experiment_name=spec.name,
            registered_model_name=spec.name,
            sample_input=frame[result.feature_columns].head(5),
            training_data=frame,
            feature_table=str(features_path),
            feature_table_version=features_version,
            tags=tags,
            problem_type=spec.problem_type.value,
            primary_metric=plan.primary_metric,
        )
        score = float(result.metrics[metric])
        higher_is_better = get_metric(metric, spec.problem_type.value).greater_is_better
        leaderboard = pd.DataFrame(result.leaderboard).drop(columns=["params"], errors="ignore")
        extras = {f"holdout_{name}": float(v) for name, v in result.holdout_metrics.items()}
        if result.decision_threshold is not None:
            extras["decision_threshold"] = float(result.decision_threshold)
        return dg.MaterializeResult(
            metadata={
                **_registration_metadata(registered, features_path, features_version),
                "best_algorithm": result.best_algorithm,
                "best_params": dg.MetadataValue.json(result.best_params),
                "primary_metric": metric,
                "validation": result.validation,
                "calibration": result.calibration,
                "trials": len(result.trials),
                "training_rows": result.n_rows,
                "holdout_rows": result.n_holdout_rows,
                "leaderboard": dg.MetadataValue.md(leaderboard.to_markdown(index=False)),
                **{f"cv_{name}": float(value) for name, value in result.metrics.items()},
                **extras,
            },
            check_results=[_metric_check(spec, metric, score, higher_is_better, "mean CV")],
        )

    return [recommendations, model]


def _registration_metadata(registered: Any, features_path: Path, features_version: int) -> dict:
    """What both training paths report: the registered version and its feature lineage."""
    return {
        "model_name": registered.name,
        "model_version": registered.version,
        "model_digest": registered.digest,
        "mlflow_run_id": registered.run_id,
        "model_uri": registered.model_uri,
        "feature_table": dg.MetadataValue.path(str(features_path)),
        "feature_table_version": features_version,
    }


def _metric_check(
    spec: ExperimentSpec, metric: str, score: float, higher_is_better: bool, what: str
) -> dg.AssetCheckResult:
    minimum = spec.training.metric_min
    passed = score >= minimum if higher_is_better else score <= minimum
    return dg.AssetCheckResult(
        check_name=METRIC_CHECK,
        passed=passed,
        metadata={
            metric: score,
            "bound": minimum,
            "direction": "min" if higher_is_better else "max",
        },
        description=None
        if passed
        else (
            f"{what} {metric} {score:.4f} misses the spec bound {minimum}; "
            "improve the features or algorithms before requesting approval"
        ),
    )


def _train_on_spark(
    context: dg.AssetExecutionContext,
    aurora: AuroraResource,
    spec: ExperimentSpec,
    plan,
    features_path,
    tags: dict[str, str],
) -> dg.MaterializeResult:
    """Spark MLlib family: the feature table is read and trained on Spark, never collected."""
    from aurora_pipelines.registry.mlflow_registry import log_and_register_spark
    from aurora_pipelines.training.spark_ml import SPARK_METRICS, train_spark

    features_version = delta.version(features_path)
    frame = delta.read_spark(aurora.spark(), features_path)
    limit = spec.training.max_train_rows
    if limit:
        frame = frame.orderBy(spec.id_column or frame.columns[0]).limit(limit)
    result = train_spark(
        frame,
        target=spec.target,
        problem_type=spec.problem_type.value,
        algorithms=plan.algorithms,
        primary_metric=plan.primary_metric,
        seed=plan.seed,
        id_column=spec.id_column,
        time_column=spec.time_column,
        holdout_fraction=plan.holdout_fraction or 0.2,
    )
    registered = log_and_register_spark(
        result,
        tracking_uri=aurora.tracking_uri,
        artifact_root=aurora.mlflow_artifacts_dir(),
        experiment_name=spec.name,
        registered_model_name=spec.name,
        tags=tags,
        training_data=frame,
        feature_table=str(features_path),
        feature_table_version=features_version,
        decision_threshold=plan.threshold,
        problem_type=spec.problem_type.value,
        primary_metric=plan.primary_metric,
    )
    metric = plan.primary_metric
    score = float(result.metrics[metric])
    higher_is_better = SPARK_METRICS[spec.problem_type.value][metric][1]
    leaderboard = pd.DataFrame(result.leaderboard)
    extras = {}
    if plan.threshold is not None:
        extras["decision_threshold"] = float(plan.threshold)
    return dg.MaterializeResult(
        metadata={
            **_registration_metadata(registered, features_path, features_version),
            "family": "spark",
            "best_algorithm": result.best_algorithm,
            "primary_metric": metric,
            "validation": "holdout",
            "training_rows": result.n_train_rows,
            "holdout_rows": result.n_holdout_rows,
            "leaderboard": dg.MetadataValue.md(leaderboard.to_markdown(index=False)),
            "fit_seconds": dg.MetadataValue.json(result.fit_seconds),
            **{f"holdout_{name}": float(value) for name, value in result.metrics.items()},
            **extras,
        },
        check_results=[_metric_check(spec, metric, score, higher_is_better, "holdout")],
    )
