"""serve/batch_scores and serve/ab_comparison: daily-partitioned batch inference on Spark.

A partition is a UTC day (assets/partitions.py). It scores the rows of the scoring features
whose `scoring.time_column` falls on that day, or the whole current batch when the spec names
no time column; the champion always scores, the challenger too when one is deployed, and a
re-run replaces only its own day (see aurora_pipelines/serving/batch.py).
"""

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import commit_info, path_url
from aurora_pipelines.defs.assets.partitions import daily_partitions
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.resources import LakeResource, MlflowRegistryResource, SparkResource
from aurora_pipelines.errors import NotFound
from aurora_pipelines.specs import ExperimentSpec


def _scoring_model(registry: MlflowRegistryResource, spec: ExperimentSpec, role: str, version: str):
    # Imported on use: mlflow adds seconds to every code-location load.
    from aurora_pipelines.registry.model_version import load_experiment_version
    from aurora_pipelines.serving.batch import ScoringModel

    return ScoringModel(role, load_experiment_version(registry.tracking_uri, spec, version))


def build_serving_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    partitions = daily_partitions()
    time_column = spec.scoring.time_column

    @stage_asset(
        spec,
        lifecycle.BATCH_SCORES,
        deps=[lifecycle.SCORING_FEATURES, lifecycle.PRODUCTION],
        partitions_def=partitions,
        kinds={"spark", "delta"},
        description="The day's scores of the champion (and challenger, if deployed), computed "
        "on Spark; "
        + (
            f"a day is the batch rows whose {time_column} falls on it."
            if time_column
            else "a day scores the whole current batch."
        ),
    )
    def batch_scores(
        context: dg.AssetExecutionContext,
        spark: SparkResource,
        lake: LakeResource,
        registry: MlflowRegistryResource,
    ) -> dg.MaterializeResult:
        from aurora_pipelines.deploy.routing import CHALLENGER, CHAMPION, read_routing
        from aurora_pipelines.lake import delta
        from aurora_pipelines.serving.batch import is_spark_model, score_day, write_day

        day = context.partition_key
        routing = read_routing(registry.tracking_uri, spec.name)
        if routing.champion is None:
            raise NotFound(f"model '{spec.name}' has no champion; pass the production gate first")
        models = [_scoring_model(registry, spec, CHAMPION, routing.champion)]
        if routing.challenger and routing.challenger != routing.champion:
            models.append(_scoring_model(registry, spec, CHALLENGER, routing.challenger))
        features_path = lake.path(spec.name, *lifecycle.SCORING_FEATURES)
        features_version = delta.version(features_path)
        scored = score_day(
            delta.read_spark(spark.spark_session, features_path),
            models,
            day=day,
            time_column=time_column,
            id_column=spec.id_column or "",
            label_column=spec.target,
        ).cache()
        try:
            path = lake.path(spec.name, *lifecycle.BATCH_SCORES)
            table_version = write_day(scored, str(path), day, commit_info=commit_info(context))
        finally:
            scored.unpersist()
        summary = delta.read_partition(
            path, column="date", value=day, columns=["role", "score", "prediction"]
        )
        champion = summary[summary["role"] == CHAMPION]
        champion_model = models[0].model
        metadata = {
            "dagster/row_count": len(champion),
            "partition": day,
            "rows_selected_by": f"time_column {time_column}" if time_column else "snapshot",
            "model_version": routing.champion,
            "challenger_version": routing.challenger or "none",
            "model_family": "spark" if is_spark_model(champion_model.model) else "in-process",
            "scoring_features_version": features_version,
            "delta_path": path_url(path),
            "delta_version": table_version,
        }
        if not champion_model.is_multiclass:  # multiclass predicts the argmax: no threshold
            metadata["decision_threshold"] = champion_model.decision_threshold
        if len(champion):
            metadata["mean_score"] = float(champion["score"].mean())
            if champion_model.is_multiclass:
                shares = champion["prediction"].value_counts(normalize=True)
                metadata["predicted_class_share"] = dg.MetadataValue.json(
                    {str(k): float(v) for k, v in shares.items()}
                )
            else:
                metadata["positive_rate"] = float(champion["prediction"].mean())
        return dg.MaterializeResult(metadata=metadata)

    @stage_asset(
        spec,
        lifecycle.AB_COMPARISON,
        deps=[lifecycle.BATCH_SCORES],
        partitions_def=partitions,
        kinds={"spark", "delta"},
        description="Champion vs. challenger on the same day's batch: score PSI, label "
        "agreement, mean score difference, and metrics where the batch has labels.",
    )
    def ab_comparison(
        context: dg.AssetExecutionContext, spark: SparkResource, lake: LakeResource
    ) -> dg.MaterializeResult:
        from aurora_pipelines.lake import delta
        from aurora_pipelines.serving.ab_comparison import compare_scores

        day = context.partition_key
        scores_path = lake.path(spec.name, *lifecycle.BATCH_SCORES)
        path = lake.path(spec.name, *lifecycle.AB_COMPARISON)
        scores = delta.read_spark(spark.spark_session, scores_path, partition=("date", day))
        result = compare_scores(
            scores, id_column=spec.id_column or "", problem_type=spec.problem_type.value
        )
        if result is None:
            # No challenger that day: a re-run after the challenger left clears the old row.
            version = delta.delete_partition(
                path, column="date", value=day, commit_info=commit_info(context)
            )
            return dg.MaterializeResult(
                metadata={"partition": day, "challenger_version": "none", "compared": False}
                | ({"delta_version": version} if version is not None else {})
            )
        import pyarrow as pa

        table_version = delta.write_partition(
            path,
            pa.Table.from_pandas(result.to_frame(), preserve_index=False),
            column="date",
            value=day,
            commit_info=commit_info(context),
        )
        return dg.MaterializeResult(
            metadata={
                "partition": day,
                "compared": True,
                **result.as_metadata(),
                "delta_path": path_url(path),
                "delta_version": table_version,
            }
        )

    return [batch_scores, ab_comparison]
