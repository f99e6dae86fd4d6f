"""train/champion_comparison: a newly trained candidate vs the serving champion, both scored on
the same recent labelled data (engine: `monitoring/candidate_evaluation.py`). Informational
for the approvers; it promotes nothing."""

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import to_metadata
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
        "labelled rows, with the interval of the improvement; the candidate still needs the "
        "staging and production approvals.",
        owners=[f"team:{spec.team}"],
    )
    def champion_comparison(
        context: dg.AssetExecutionContext, aurora: AuroraResource
    ) -> dg.MaterializeResult:
        from aurora_pipelines.monitoring import candidate_evaluation as evaluation
        from aurora_pipelines.registry import mlflow_registry
        from aurora_pipelines.registry.model_version import load_model_version

        uri = aurora.tracking_uri
        champion = mlflow_registry.get_alias_version(uri, spec.name, "champion")
        latest = mlflow_registry.latest_version(uri, spec.name)
        candidate = latest.version if latest else None
        labels = spec.monitoring.labels
        features_path = aurora.lake_path(spec.name, *lifecycle.SCORING_FEATURES)
        reason = None
        if champion is None:
            reason = "no champion yet: the first model has nothing to be compared with"
        elif candidate is None or candidate == champion:
            reason = f"the latest version v{candidate} is the champion"
        elif labels is None or not spec.id_column:
            reason = "no labels table (spec monitoring.labels) to compare on"
        elif not delta.is_delta_table(features_path):
            reason = "no scoring batch yet (serve/scoring_features)"
        if reason:
            context.log.info(reason)
            return dg.MaterializeResult(
                metadata={"compared": False, "reason": reason, "champion": champion or "none"}
            )
        labelled = evaluation.latest_labelled_rows(
            aurora.spark(), features_path, labels, id_column=spec.id_column, target=spec.target
        )
        champion_handle, candidate_handle = (
            load_model_version(
                uri,
                spec.name,
                version,
                problem_type=spec.problem_type.value,
                primary_metric=spec.training.primary_metric,
            )
            for version in (champion, candidate)
        )
        result = evaluation.evaluate_candidate(
            champion_handle,
            candidate_handle,
            labelled,
            target=spec.target,
            min_improvement=spec.monitoring.min_improvement,
            data=f"latest scoring batch joined to {labels.display}",
        )
        report = evaluation.write_report(result, aurora.settings.reports_dir / spec.name / "train")
        return dg.MaterializeResult(
            metadata=to_metadata({**result.as_metadata(), "report": report})
        )

    return [champion_comparison]
