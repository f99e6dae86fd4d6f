"""serve/batch_scores: the champion scores the new batch on Spark (drift: assets/drift.py)."""

import dagster as dg

from assets.metadata import commit_info, path_url
from aurora_pipelines import lifecycle
from aurora_pipelines.errors import NotFound
from aurora_pipelines.lake import delta
from aurora_pipelines.specs import ExperimentSpec
from resources import AuroraResource


def _champion(aurora: AuroraResource, spec: ExperimentSpec) -> str:
    from aurora_pipelines.registry import mlflow_registry

    version = mlflow_registry.get_alias_version(aurora.tracking_uri, spec.name, "champion")
    if version is None:
        raise NotFound(f"model '{spec.name}' has no champion; pass the production gate first")
    return version


def build_monitoring_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:

    @dg.asset(
        key=spec.key(*lifecycle.BATCH_SCORES),
        deps=[spec.key(*lifecycle.SCORING_FEATURES), spec.key(*lifecycle.PRODUCTION)],
        group_name=spec.name,
        kinds={"spark", "delta"},
        description="The champion's scores for the new batch, computed on Spark.",
        owners=[f"team:{spec.team}"],
    )
    def batch_scores(
        context: dg.AssetExecutionContext, aurora: AuroraResource
    ) -> dg.MaterializeResult:
        # Imported on use: mlflow adds seconds to every code-location load.
        from aurora_pipelines.registry import mlflow_registry
        from aurora_pipelines.serving.batch import is_spark_model, model_input_columns, score_batch

        version = _champion(aurora, spec)
        model = mlflow_registry.load_model(aurora.tracking_uri, spec.name, version)
        columns = model_input_columns(aurora.tracking_uri, spec.name, version)
        # The cut-off chosen at training time and registered with this version.
        threshold = mlflow_registry.decision_threshold(aurora.tracking_uri, spec.name, version)
        features_path = aurora.lake_path(spec.name, *lifecycle.SCORING_FEATURES)
        batch = delta.read_spark(aurora.spark(), features_path)
        # A Spark MLlib PipelineModel scores with `transform`, an in-process one in mapInPandas.
        scored = score_batch(
            batch,
            model,
            feature_columns=columns,
            id_column=spec.id_column or "",
            model_name=spec.name,
            model_version=version,
            problem_type=spec.problem_type.value,
            threshold=0.5 if threshold is None else threshold,
        )
        path = aurora.lake_path(spec.name, *lifecycle.BATCH_SCORES)
        table_version = delta.write_spark(scored, path, commit_info=commit_info(context))
        summary = delta.read_pandas(path, columns=["score", "prediction"])
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(summary),
                "model_version": version,
                "model_family": "spark" if is_spark_model(model) else "in-process",
                "scoring_features_version": delta.version(features_path),
                "mean_score": float(summary["score"].mean()),
                "positive_rate": float(summary["prediction"].mean()),
                "decision_threshold": 0.5 if threshold is None else threshold,
                "delta_path": path_url(path),
                "delta_version": table_version,
            }
        )

    return [batch_scores]
