"""serve/batch_scores and serve/ab_comparison: daily-partitioned batch inference on Spark.

A partition is a UTC day (assets/partitions.py). It scores the rows of the scoring features
whose `scoring.time_column` falls on that day, or the whole current batch when the spec names
no time column; the champion always scores, the challenger too when one is deployed, and a
re-run replaces only its own day (see aurora_pipelines/serving/batch.py).
"""

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import (
    commit_info,
    path_url,
    table_metadata,
    to_metadata,
)
from aurora_pipelines.defs.assets.partitions import daily_partitions
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.resources import LakeResource, MlflowRegistryResource, SparkResource
from aurora_pipelines.specs import ExperimentSpec


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
        from aurora_pipelines.registry.model_version import load_experiment_version
        from aurora_pipelines.serving.batch_scores import score_and_write_day

        result = score_and_write_day(
            lambda: spark.spark_session,
            spec,
            spark_master=spark.master,
            day=context.partition_key,
            tracking_uri=registry.tracking_uri,
            features_path=lake.stage_path(spec, lifecycle.SCORING_FEATURES),
            scores_path=lake.path(spec.name, *lifecycle.BATCH_SCORES),
            load_version=lambda v: load_experiment_version(registry.tracking_uri, spec, v),
            commit_info=commit_info(context),
        )
        table = table_metadata(lake.path(spec.name, *lifecycle.BATCH_SCORES), rows=False)
        return dg.MaterializeResult(metadata=to_metadata(result.as_metadata()) | table)

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
                **to_metadata(result.as_metadata()),
                "delta_path": path_url(path),
                "delta_version": table_version,
                **table_metadata(path, rows=False),
            }
        )

    return [batch_scores, ab_comparison]
