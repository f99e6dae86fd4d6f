"""monitor/drift and monitor/performance: one daily window each, against the training reference.

Both are partitioned with `daily_partitions()`. A run without a partition key (e.g. an
unpartitioned `aurora run`) computes today's window (UTC), the day the batch was scored.
Thresholds come from the spec's `monitoring` section; WARN and ERROR asset checks carry them,
and a failed one is also an alert (JSON log line + optional webhook).
"""

from datetime import UTC, datetime

import dagster as dg

from aurora_pipelines.defs.assets.metadata import commit_info, path_url
from aurora_pipelines.defs.assets.partitions import daily_partitions
from aurora_pipelines import lifecycle
from aurora_pipelines.errors import DataError, NotFound
from aurora_pipelines.lake import delta
from aurora_pipelines.specs import ExperimentSpec
from aurora_pipelines.defs.resources import AuroraResource

DRIFT_CHECK = "drift_share_max"
DRIFT_WARN_CHECK = "drift_share_warn"
PSI_WARN_CHECK = "feature_psi_warn"
PSI_ERROR_CHECK = "feature_psi_error"
PREDICTION_CHECK = "prediction_drift"
PERFORMANCE_CHECK = "performance_tolerance"
WARN, ERROR = dg.AssetCheckSeverity.WARN, dg.AssetCheckSeverity.ERROR


def window_of(context: dg.AssetExecutionContext) -> str:
    """The partition key (a UTC day), or today for a run without one."""
    if context.has_partition_key:
        return context.partition_key
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _champion(aurora: AuroraResource, spec: ExperimentSpec) -> str:
    from aurora_pipelines.registry import mlflow_registry

    version = mlflow_registry.get_alias_version(aurora.tracking_uri, spec.name, "champion")
    if version is None:
        raise NotFound(f"model '{spec.name}' has no champion; pass the production gate first")
    return version


def _check(name: str, passed: bool, severity, description: str, **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=bool(passed),
        severity=severity,
        description=None if passed else description,
        metadata=metadata,
    )


def build_monitoring_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    m = spec.monitoring
    drift_key = dg.AssetKey(spec.key(*lifecycle.DRIFT))
    drift_checks = [
        dg.AssetCheckSpec(
            DRIFT_WARN_CHECK,
            asset=drift_key,
            description=f"WARN: drift share at most {m.drift_share_warn} (drift_share_warn).",
        ),
        dg.AssetCheckSpec(
            DRIFT_CHECK,
            asset=drift_key,
            description=f"ERROR: drift share at most {m.drift_share_max} (drift_share_max); "
            "above it the drift sensor requests retraining.",
        ),
        dg.AssetCheckSpec(
            PSI_WARN_CHECK,
            asset=drift_key,
            description=f"WARN: every feature's PSI below its warn level (default {m.psi_warn}).",
        ),
        dg.AssetCheckSpec(
            PSI_ERROR_CHECK,
            asset=drift_key,
            description=f"ERROR: every feature's PSI below its error level "
            f"(default {m.psi_threshold}).",
        ),
        dg.AssetCheckSpec(
            PREDICTION_CHECK,
            asset=drift_key,
            description="WARN: the score distribution's PSI vs the reference scores is below "
            "the error level.",
        ),
    ]

    @dg.asset(
        key=drift_key,
        deps=[
            spec.key(*lifecycle.BATCH_SCORES),
            spec.key(*lifecycle.FEATURES),
            spec.key(*lifecycle.SCORING_FEATURES),
        ],
        partitions_def=daily_partitions(),
        group_name=spec.name,
        kinds={"spark", "delta", "html"},
        description="Drift of one day's batch scores and logged predictions vs. the training "
        "reference: PSI, KS / chi-squared, Jensen-Shannon per feature, prediction drift, "
        "drift share; Evidently HTML report.",
        owners=[f"team:{spec.team}"],
        check_specs=drift_checks,
    )
    def drift(context: dg.AssetExecutionContext, aurora: AuroraResource) -> dg.MaterializeResult:
        import pandas as pd

        from aurora_pipelines.monitoring.alerts import Alert, emit
        from aurora_pipelines.monitoring.run_window import drift_of_window, load_or_build_reference
        from aurora_pipelines.monitoring.series import append_window
        from aurora_pipelines.monitoring.window_data import window_data
        from aurora_pipelines.serving.batch import model_input_columns
        from aurora_pipelines.serving.prediction_log import prediction_log_path

        day = window_of(context)
        version = _champion(aurora, spec)
        columns = model_input_columns(aurora.tracking_uri, spec.name, version)
        spark = aurora.spark()
        features_path = aurora.lake_path(spec.name, *lifecycle.FEATURES)
        reference = delta.read_spark(spark, features_path)

        def reference_scores():
            return _reference_scores(aurora, spec, version, reference, columns)

        profile, sample_path = load_or_build_reference(
            aurora.lake_path(spec.name, "monitor", "reference", f"v{version}"),
            reference,
            columns,
            source=f"{features_path}@{delta.version(features_path)}",
            model_version=version,
            reference_scores=reference_scores,
        )
        data = window_data(
            spark,
            scores_path=aurora.lake_path(spec.name, *lifecycle.BATCH_SCORES),
            features_path=aurora.lake_path(spec.name, *lifecycle.SCORING_FEATURES),
            log_path=prediction_log_path(aurora.settings.lake_dir, spec.name),
            id_column=spec.id_column,
            columns=columns,
            day=day,
        )
        if data.frame is None:
            raise DataError(
                f"window {day} of '{spec.name}' has no batch scores and no logged predictions; "
                "score that day's batch (serve/batch_scores) or pick another partition"
            )
        report = aurora.reports_path(spec.name, "drift", f"drift_{day}.html")
        result = drift_of_window(
            data.frame,
            profile,
            m,
            window_name=day,
            reference_sample=pd.read_parquet(sample_path),
            report_path=report,
        )
        result.sources = data.sources
        frame = result.to_frame()
        path = aurora.lake_path(spec.name, *lifecycle.DRIFT)
        table_version = append_window(
            path,
            frame,
            window=day,
            model_version=version,
            drift_share=result.drift_share,
            commit_info=commit_info(context),
        )
        warned = [f.column for f in result.features if f.severity != "ok"]
        errored = [f.column for f in result.features if f.severity == "error"]
        webhook_errors = []
        if result.severity != "ok":
            error = emit(
                Alert(
                    event=f"drift_{result.severity}",
                    severity=result.severity,
                    experiment=spec.name,
                    window=day,
                    message=f"drift share {result.drift_share:.2f} "
                    f"(warn {m.drift_share_warn}, error {m.drift_share_max}); "
                    f"drifted: {', '.join(result.drifted_columns) or 'none'}",
                    details={
                        "drift_share": result.drift_share,
                        "drifted_features": result.drifted_columns,
                        "model_version": version,
                        "report": str(report),
                    },
                ),
                m.webhook_url,
            )
            webhook_errors = [error] if error else []
        prediction = result.prediction
        metadata = {
            "window": day,
            "dagster/row_count": result.rows,
            "rows": result.rows,
            "sources": ", ".join(result.sources),
            "drift_share": float(result.drift_share),
            "dataset_drift": bool(result.dataset_drift),
            "severity": result.severity,
            "drifted_features": ", ".join(result.drifted_columns) or "none",
            "prediction_psi": float(prediction.psi) if prediction else None,
            "evidently_drift_share": result.evidently_drift_share,
            "features": dg.MetadataValue.md(
                frame[
                    ["column", "psi", "test", "p_value", "js_distance", "severity", "drifted"]
                ].to_markdown(index=False)
            ),
            "report": path_url(report),
            "reference": path_url(sample_path.parent / "bins.json"),
            "model_version": version,
            "delta_path": path_url(path),
            "delta_version": table_version,
        }
        if webhook_errors:
            metadata["alert_webhook_error"] = webhook_errors[0]
        share = float(result.drift_share)
        return dg.MaterializeResult(
            metadata={k: v for k, v in metadata.items() if v is not None},
            check_results=[
                _check(
                    DRIFT_WARN_CHECK,
                    share <= m.drift_share_warn,
                    WARN,
                    f"drift share {share:.2f} above {m.drift_share_warn}",
                    drift_share=share,
                    maximum=m.drift_share_warn,
                ),
                _check(
                    DRIFT_CHECK,
                    share <= m.drift_share_max,
                    ERROR,
                    f"drift share {share:.2f} above {m.drift_share_max}: the drift sensor "
                    "requests a retraining run (which goes through approval again)",
                    drift_share=share,
                    maximum=m.drift_share_max,
                ),
                _check(
                    PSI_WARN_CHECK,
                    not warned,
                    WARN,
                    f"PSI at or above the warn level: {', '.join(warned)}",
                    features=", ".join(warned) or "none",
                ),
                _check(
                    PSI_ERROR_CHECK,
                    not errored,
                    ERROR,
                    f"PSI at or above the error level: {', '.join(errored)}",
                    features=", ".join(errored) or "none",
                ),
                _check(
                    PREDICTION_CHECK,
                    prediction is None or prediction.severity != "error",
                    WARN,
                    f"score distribution drifted (PSI {prediction.psi:.3f})" if prediction else "",
                    psi=float(prediction.psi) if prediction else 0.0,
                    measured=prediction is not None,
                ),
            ],
        )

    assets = [drift]
    if m.labels is not None:
        assets.append(_build_performance(spec))
    return assets


def _reference_scores(aurora: AuroraResource, spec: ExperimentSpec, version, reference, columns):
    """UAT scores when `serve/uat_scores` exists, else the champion's scores of the training
    reference (computed on Spark)."""
    from aurora_pipelines.registry.model_version import load_experiment_version
    from aurora_pipelines.serving.batch import score_batch

    uat = aurora.lake_path(spec.name, *lifecycle.UAT_SCORES)
    if delta.is_delta_table(uat) and "score" in dict(delta.schema_columns(uat)):
        return delta.read_spark(aurora.spark(), uat).select("score")
    if not spec.id_column:
        return None
    handle = load_experiment_version(aurora.tracking_uri, spec, version)
    return score_batch(reference, handle, id_column=spec.id_column).select("score")


def _build_performance(spec: ExperimentSpec) -> dg.AssetsDefinition:
    m = spec.monitoring
    key = dg.AssetKey(spec.key(*lifecycle.PERFORMANCE))

    @dg.asset(
        key=key,
        deps=[spec.key(*lifecycle.BATCH_SCORES)],
        partitions_def=daily_partitions(),
        group_name=spec.name,
        kinds={"spark", "delta"},
        description=f"The primary metric ({spec.training.primary_metric}) of one day's scores "
        f"once labels arrive ({m.labels.display if m.labels else ''}), vs. training.",
        owners=[f"team:{spec.team}"],
        check_specs=[
            dg.AssetCheckSpec(
                PERFORMANCE_CHECK,
                asset=key,
                description=f"ERROR: the primary metric is at most {m.performance_tolerance} "
                "worse than at training (performance_tolerance).",
            )
        ],
    )
    def performance(
        context: dg.AssetExecutionContext, aurora: AuroraResource
    ) -> dg.MaterializeResult:
        import pandas as pd
        from pyspark.sql import functions as F

        from aurora_pipelines.monitoring.alerts import Alert, emit
        from aurora_pipelines.monitoring.performance import labelled_scores, window_performance
        from aurora_pipelines.monitoring.series import append_rows
        from aurora_pipelines.monitoring.window_data import read_day
        from aurora_pipelines.registry import mlflow_registry
        from aurora_pipelines.serving.prediction_log import prediction_log_path
        from aurora_pipelines.sources.readers import read_source

        day = window_of(context)
        version = _champion(aurora, spec)
        spark = aurora.spark()
        id_column = spec.id_column or "entity_id"
        parts = []
        scores = read_day(spark, aurora.lake_path(spec.name, *lifecycle.BATCH_SCORES), day)
        if scores is not None and "role" in scores.columns:
            scores = scores.where(F.col("role") == "champion")
        if scores is not None:
            parts.append(scores.select(F.col(id_column).cast("string").alias(id_column), "score"))
        log = read_day(spark, prediction_log_path(aurora.settings.lake_dir, spec.name), day)
        if log is not None:
            parts.append(
                log.where(F.col("served") & (F.col("status") == "ok")).select(
                    F.col("entity_id").alias(id_column), "score"
                )
            )
        if not parts:
            raise DataError(f"window {day} of '{spec.name}' has no scores to evaluate")
        window = parts[0]
        for other in parts[1:]:
            window = window.unionByName(other)
        labels = read_source(spark, m.labels)
        y, score = labelled_scores(window, labels, id_column=id_column, target=spec.target)
        trained = mlflow_registry.get_model_version(aurora.tracking_uri, spec.name, version)
        result = window_performance(
            y,
            score,
            window=day,
            metric=spec.training.primary_metric,
            problem_type=spec.problem_type.value,
            training_metrics=trained.metrics,
            tolerance=m.performance_tolerance,
            model_version=version,
        )
        row = pd.DataFrame([result.model_dump()])
        row["computed_at"] = datetime.now(UTC).replace(tzinfo=None)
        path = aurora.lake_path(spec.name, *lifecycle.PERFORMANCE)
        table_version = append_rows(path, row, commit_info(context))
        webhook_error = None
        message = (
            f"{result.metric} {result.value:.4f} vs {result.training_value} at training "
            f"(drop {result.drop}, tolerance {result.tolerance})"
        )
        if result.degraded:
            webhook_error = emit(
                Alert(
                    event="performance_degraded",
                    severity="error",
                    experiment=spec.name,
                    window=day,
                    message=message,
                    details=result.model_dump(),
                ),
                m.webhook_url,
            )
        metadata = {
            "window": day,
            "metric": result.metric,
            "value": result.value,
            "training_value": result.training_value,
            "change": result.change,
            "drop": result.drop,
            "degraded": result.degraded,
            "labelled_rows": result.labelled_rows,
            "model_version": version,
            "delta_path": path_url(path),
            "delta_version": table_version,
            "alert_webhook_error": webhook_error,
        }
        return dg.MaterializeResult(
            metadata={k: v for k, v in metadata.items() if v is not None},
            check_results=[
                _check(
                    PERFORMANCE_CHECK,
                    not result.degraded,
                    ERROR,
                    f"performance dropped: {message}",
                    value=result.value,
                    drop=result.drop if result.drop is not None else 0.0,
                    tolerance=result.tolerance,
                )
            ],
        )

    return performance
