"""train/recommendations and train/model.

recommendations: ranked algorithms, metric and validation scheme for the feature table,
each with its reasons (JSON under AURORA_HOME + Markdown in the UI).
model: the plan (the spec's explicit training fields, the recommendation for the rest):
CV + Optuna tuning, holdout, calibration and threshold; logged and registered in MLflow.
"""

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import (
    actor_of,
    correlation_id,
    materialize,
)
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.resources import (
    GovernanceResource,
    LakeResource,
    MlflowRegistryResource,
    SparkResource,
)
from aurora_pipelines.specs import ExperimentSpec

# The name of training/stage.py's verdict; not imported from there, since importing the
# training package loads sklearn, and the code location must load fast.
METRIC_CHECK = "metric_min"
RECOMMENDATIONS_FILE = "recommendations.json"


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

    @stage_asset(
        spec,
        lifecycle.RECOMMENDATIONS,
        deps=[lifecycle.FEATURES],
        kinds={"python", "json"},
        description="Ranked algorithms with reasons, the recommended metric, validation "
        "scheme and search spaces, from the feature table's characteristics.",
    )
    def recommendations(
        context: dg.AssetExecutionContext, lake: LakeResource
    ) -> dg.MaterializeResult:
        from aurora_pipelines.lake import delta
        from aurora_pipelines.recommend import recommend_for_table, resolve_plan
        from aurora_pipelines.recommend.report import as_markdown, write_json

        features_path = lake.stage_path(spec, lifecycle.FEATURES)
        recommendation = recommend_for_table(features_path, spec)
        plan = resolve_plan(spec, recommendation)
        path = lake.report_path(spec.name, "train", RECOMMENDATIONS_FILE)
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

    @stage_asset(
        spec,
        lifecycle.MODEL,
        deps=[lifecycle.FEATURES, lifecycle.RECOMMENDATIONS],
        kinds={"sklearn", "optuna", "mlflow"},
        description=f"{spec.training.cv_folds}-fold CV with Optuna tuning over {candidates}; "
        "the best by the primary metric is calibrated, given a decision threshold, scored on "
        "the holdout and registered in MLflow.",
        check_specs=[
            dg.AssetCheckSpec(
                METRIC_CHECK,
                asset=key,
                blocking=True,
                description=f"Mean CV {_metric_text(spec)} is at least {minimum} "
                "(spec training.metric_min)."
                if minimum is not None
                else f"Mean CV {_metric_text(spec)} beats the dummy baseline of that metric "
                "on this data by a margin the CV spread supports (training.metric_min unset); "
                "the verdict says which bound applied and why.",
            )
        ],
    )
    def model(
        context: dg.AssetExecutionContext,
        spark: SparkResource,
        lake: LakeResource,
        registry: MlflowRegistryResource,
        governance: GovernanceResource,
    ) -> dg.MaterializeResult:
        # Imported on use: mlflow and sklearn add seconds to every code-location load.
        from aurora_pipelines.recommend import optuna_storage_url, resolve_plan
        from aurora_pipelines.recommend.report import read_json
        from aurora_pipelines.training.stage import train_and_register

        recommendation_path = lake.report_path(spec.name, "train", RECOMMENDATIONS_FILE)
        recommendation = read_json(recommendation_path) if recommendation_path.exists() else None
        plan = resolve_plan(
            spec, recommendation, optuna_storage=optuna_storage_url(lake.layout.root)
        )
        outcome = train_and_register(
            spec,
            plan,
            features_path=lake.stage_path(spec, lifecycle.FEATURES),
            tracking_uri=registry.tracking_uri,
            artifact_root=registry.artifacts_dir,
            spark=lambda: spark.spark_session,  # called only for the Spark MLlib family
            governance=governance.store(),
            actor=actor_of(context) or spec.owner,
            correlation_id=correlation_id(context),
            run_id=context.run_id,
            eda_dir=lake.layout.report_dir(spec.data_owner, "eda"),
        )
        return materialize(outcome)

    return [recommendations, model]
