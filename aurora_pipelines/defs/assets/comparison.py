"""train/champion_comparison: a newly trained candidate vs the serving champion, both scored on
the same recent labelled data. Informational for the approvers; it promotes nothing."""

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import path_url
from aurora_pipelines.defs.resources import AuroraResource
from aurora_pipelines.lake import delta
from aurora_pipelines.specs import ExperimentSpec


def build_comparison_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=spec.key(*lifecycle.CHAMPION_COMPARISON),
        deps=[spec.key(*lifecycle.MODEL)],
        group_name=spec.name,
        kinds={"mlflow", "spark"},
        description="The latest trained version (candidate) vs the champion on the same recent "
        "labelled rows; the candidate still needs the staging and production approvals.",
        owners=[f"team:{spec.team}"],
    )
    def champion_comparison(
        context: dg.AssetExecutionContext, aurora: AuroraResource
    ) -> dg.MaterializeResult:
        from pyspark.sql import functions as F

        from aurora_pipelines.monitoring.comparison import MAX_ROWS, compare_models, write_report
        from aurora_pipelines.registry import mlflow_registry
        from aurora_pipelines.registry.model_version import load_experiment_version
        from aurora_pipelines.sources.readers import read_source

        uri = aurora.tracking_uri
        champion = mlflow_registry.get_alias_version(uri, spec.name, "champion")
        latest = mlflow_registry.latest_version(uri, spec.name)
        candidate = latest.version if latest else None
        labels_spec = spec.monitoring.labels
        features_path = aurora.lake_path(spec.name, *lifecycle.SCORING_FEATURES)
        reason = None
        if champion is None:
            reason = "no champion yet: the first model has nothing to be compared with"
        elif candidate is None or candidate == champion:
            reason = f"the latest version v{candidate} is the champion"
        elif labels_spec is None or not spec.id_column:
            reason = "no labels table (spec monitoring.labels) to compare on"
        elif not delta.is_delta_table(features_path):
            reason = "no scoring batch yet (serve/scoring_features)"
        if reason:
            context.log.info(reason)
            return dg.MaterializeResult(
                metadata={"compared": False, "reason": reason, "champion": champion or "none"}
            )
        spark = aurora.spark()
        key = F.col(spec.id_column).cast("string")
        labels = read_source(spark, labels_spec).select(
            key.alias("__id"), F.col(spec.target).alias("__label")
        )
        rows = delta.read_spark(spark, features_path)
        rows = rows.drop(spec.target) if spec.target in rows.columns else rows
        labelled = (
            rows.withColumn("__id", key)
            .join(labels, "__id")
            .where(F.col("__label").isNotNull())
            .limit(MAX_ROWS)
            .toPandas()
            .rename(columns={"__label": spec.target})
        )
        versions = [load_experiment_version(uri, spec, v) for v in (champion, candidate)]
        champion_model, candidate_model = [
            (h.version, h.model, list(h.input_columns)) for h in versions
        ]
        comparison = compare_models(
            champion_model,
            candidate_model,
            labelled,
            target=spec.target,
            # The metric the candidate was trained on (the plan's), not the spec's default.
            metric=versions[1].primary_metric,
            problem_type=spec.problem_type.value,
            data=f"latest scoring batch joined to {labels_spec.display}",
        )
        report = write_report(comparison, aurora.settings.reports_dir / spec.name / "train")
        return dg.MaterializeResult(
            metadata={
                "compared": True,
                "champion_version": comparison.champion_version,
                "candidate_version": comparison.candidate_version,
                "metric": comparison.metric,
                "champion_value": comparison.champion_value,
                "candidate_value": comparison.candidate_value,
                "improvement": comparison.improvement,
                "candidate_better": comparison.candidate_better,
                "rows": comparison.rows,
                "comparison": dg.MetadataValue.md(comparison.markdown()),
                "report": path_url(report),
            }
        )

    return [champion_comparison]
