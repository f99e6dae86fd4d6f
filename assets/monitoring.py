"""monitor/drift: the batch's features are compared with the training reference.
(serve/batch_scores lives in assets/serving.py.)"""

from datetime import UTC, datetime

import dagster as dg

from assets.metadata import commit_info, path_url
from aurora_pipelines import lifecycle
from aurora_pipelines.errors import NotFound
from aurora_pipelines.lake import delta
from aurora_pipelines.monitoring.series import append_window
from aurora_pipelines.specs import ExperimentSpec
from resources import AuroraResource

DRIFT_CHECK = "drift_share_max"
REFERENCE_ROWS = 50_000


def _champion(aurora: AuroraResource, spec: ExperimentSpec) -> str:
    from aurora_pipelines.registry import mlflow_registry

    version = mlflow_registry.get_alias_version(aurora.tracking_uri, spec.name, "champion")
    if version is None:
        raise NotFound(f"model '{spec.name}' has no champion; pass the production gate first")
    return version


def build_monitoring_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    drift_key = dg.AssetKey(spec.key(*lifecycle.DRIFT))

    @dg.asset(
        key=drift_key,
        deps=[spec.key(*lifecycle.BATCH_SCORES), spec.key(*lifecycle.FEATURES)],
        group_name=spec.name,
        kinds={"delta", "html"},
        description="Evidently data-drift report and PSI per feature: new batch vs. training.",
        owners=[f"team:{spec.team}"],
        check_specs=[
            dg.AssetCheckSpec(
                DRIFT_CHECK,
                asset=drift_key,
                description=f"Share of drifted features is at most "
                f"{spec.monitoring.drift_share_max} (spec monitoring.drift_share_max).",
            )
        ],
    )
    def drift(context: dg.AssetExecutionContext, aurora: AuroraResource) -> dg.MaterializeResult:
        from aurora_pipelines.monitoring.drift import compute_drift
        from aurora_pipelines.serving.batch import model_input_columns

        version = _champion(aurora, spec)
        columns = model_input_columns(aurora.tracking_uri, spec.name, version)
        reference = delta.read_pandas(aurora.lake_path(spec.name, *lifecycle.FEATURES), columns)
        if len(reference) > REFERENCE_ROWS:
            reference = reference.sample(n=REFERENCE_ROWS, random_state=0)
        current = delta.read_pandas(
            aurora.lake_path(spec.name, *lifecycle.SCORING_FEATURES), columns
        )
        window = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S")
        report = aurora.reports_path(spec.name, "drift", f"drift_{window}.html")
        result = compute_drift(
            reference,
            current,
            columns=columns,
            psi_threshold=spec.monitoring.psi_threshold,
            drift_share_max=spec.monitoring.drift_share_max,
            report_path=report,
        )
        frame = result.to_frame()
        path = aurora.lake_path(spec.name, *lifecycle.DRIFT)
        table_version = append_window(
            path,
            frame,
            window=window,
            model_version=version,
            drift_share=result.drift_share,
            commit_info=commit_info(context),
        )
        passed = not result.dataset_drift
        return dg.MaterializeResult(
            metadata={
                "drift_share": float(result.drift_share),
                "dataset_drift": bool(result.dataset_drift),
                "drifted_features": ", ".join(f.column for f in result.features if f.drifted)
                or "none",
                "features": dg.MetadataValue.md(frame.to_markdown(index=False)),
                "report": path_url(report),
                "model_version": version,
                "window": window,
                "delta_path": path_url(path),
                "delta_version": table_version,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=DRIFT_CHECK,
                    passed=passed,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={
                        "drift_share": float(result.drift_share),
                        "maximum": spec.monitoring.drift_share_max,
                    },
                    description=None
                    if passed
                    else "drift above threshold: the drift sensor "
                    "requests a retraining run (which goes through approval again)",
                )
            ],
        )

    return [drift]
