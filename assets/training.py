"""train/model: CV over the spec's algorithms, best refit, logged and registered in MLflow."""

import dagster as dg
import pandas as pd

from aurora_pipelines import lifecycle
from aurora_pipelines.lake import delta
from aurora_pipelines.specs import ExperimentSpec
from resources import AuroraResource

METRIC_CHECK = "metric_min"


def _training_frame(spec: ExperimentSpec, frame: pd.DataFrame) -> pd.DataFrame:
    limit = spec.training.max_train_rows
    if limit and len(frame) > limit:
        frame = frame.sample(n=limit, random_state=spec.training.seed)
    return frame.reset_index(drop=True)


def build_training_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    key = dg.AssetKey(spec.key(*lifecycle.MODEL))
    metric, minimum = spec.training.primary_metric, spec.training.metric_min

    @dg.asset(
        key=key,
        deps=[spec.key(*lifecycle.FEATURES)],
        group_name=spec.name,
        kinds={"sklearn", "mlflow"},
        description=f"{spec.training.cv_folds}-fold CV over {', '.join(spec.training.algorithms)};"
        " the best by the primary metric is refit and registered in MLflow.",
        owners=[f"team:{spec.team}"],
        check_specs=[
            dg.AssetCheckSpec(
                METRIC_CHECK,
                asset=key,
                blocking=True,
                description=f"Mean CV {metric} is at least {minimum} (spec training.metric_min).",
            )
        ],
    )
    def model(context: dg.AssetExecutionContext, aurora: AuroraResource) -> dg.MaterializeResult:
        # Imported on use: mlflow and sklearn add seconds to every code-location load.
        from aurora_pipelines.registry.mlflow_registry import log_and_register
        from aurora_pipelines.training.trainer import get_metric, train_experiment

        features_path = aurora.lake_path(spec.name, *lifecycle.FEATURES)
        features_version = delta.version(features_path)
        frame = _training_frame(spec, delta.read_pandas(features_path))
        result = train_experiment(
            frame,
            target=spec.target,
            problem_type=spec.problem_type.value,
            algorithms=spec.training.algorithms,
            cv_folds=spec.training.cv_folds,
            seed=spec.training.seed,
            primary_metric=metric,
            id_column=spec.id_column,
            time_column=spec.time_column,
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
            tags={
                "aurora.experiment": spec.name,
                "aurora.team": spec.team,
                "aurora.owner": spec.owner,
                "aurora.correlation_id": context.run_id,
                "aurora.dagster_run_id": context.run_id,
            },
        )
        score = float(result.metrics[metric])
        higher_is_better = get_metric(metric, spec.problem_type.value).greater_is_better
        passed = score >= minimum if higher_is_better else score <= minimum
        leaderboard = pd.DataFrame(result.leaderboard)
        return dg.MaterializeResult(
            metadata={
                "model_name": registered.name,
                "model_version": registered.version,
                "model_digest": registered.digest,
                "mlflow_run_id": registered.run_id,
                "model_uri": registered.model_uri,
                "best_algorithm": result.best_algorithm,
                "training_rows": result.n_rows,
                "feature_table": dg.MetadataValue.path(str(features_path)),
                "feature_table_version": features_version,
                "leaderboard": dg.MetadataValue.md(leaderboard.to_markdown(index=False)),
                **{f"cv_{name}": float(value) for name, value in result.metrics.items()},
            },
            check_results=[
                dg.AssetCheckResult(
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
                        f"mean CV {metric} {score:.4f} misses the spec bound {minimum}; "
                        "improve the features or algorithms before requesting approval"
                    ),
                )
            ],
        )

    return [model]
