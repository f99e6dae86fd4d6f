"""The model card of an unsupervised version: its metrics, the training report (cluster
profiles, components and loadings, or the anomaly-score distribution) and which features
drive the output.

Feature influence is measured, not SHAP: for each input column, how strongly the model's
output moves with it on a seeded sample of the feature table (|Spearman correlation| of
the column with the score; for clustering the largest standardised mean difference of any
cluster). The card says so in its method line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aurora_pipelines.explain.evaluation import Evaluation, MetricInterval
from aurora_pipelines.explain.model_card import DataSource, ModelCard, RiskTier
from aurora_pipelines.explain.shap_values import GlobalExplanation
from aurora_pipelines.registry.model_version import ModelVersion
from aurora_pipelines.specs import ExperimentSpec
from aurora_pipelines.training.unsupervised.estimators import unsupervised_outputs

SAMPLE_ROWS = 5000


def _influence(version: ModelVersion, features: pd.DataFrame, seed: int) -> pd.DataFrame:
    frame = features[list(version.input_columns)]
    if len(frame) > SAMPLE_ROWS:
        frame = frame.sample(n=SAMPLE_ROWS, random_state=seed)
    score, prediction, _ = unsupervised_outputs(version.model, frame)
    numeric = frame.select_dtypes("number")
    values: dict[str, float] = {}
    if version.problem_type == "clustering":
        std = numeric.std(ddof=0).replace(0, np.nan)
        means = numeric.groupby(prediction).mean()
        effect = ((means - numeric.mean()) / std).abs().max()
        values = {c: float(v) for c, v in effect.dropna().items()}
    else:
        for column in numeric.columns:
            rho = pd.Series(score).corr(numeric[column].reset_index(drop=True), method="spearman")
            values[column] = 0.0 if pd.isna(rho) else abs(float(rho))
    total = sum(values.values()) or 1.0
    rows = sorted(values.items(), key=lambda kv: -kv[1])
    return pd.DataFrame(
        [{"feature": f, "mean_abs_shap": v, "share": v / total} for f, v in rows],
        columns=["feature", "mean_abs_shap", "share"],
    )


def _tables(problem_type: str, report: dict[str, Any]) -> dict[str, pd.DataFrame]:
    if problem_type == "clustering":
        rows = [
            {
                "cluster": p["cluster"],
                "size": p["size"],
                "share": p["share"],
                "distinguishing (std. difference)": ", ".join(
                    f"{k} {v:+.2f}" for k, v in p["distinguishing"].items()
                ),
                "centroid": ", ".join(f"{k}={v:g}" for k, v in list(p["centroid"].items())[:6]),
                "modes": ", ".join(f"{k}={v}" for k, v in p["modes"].items()),
            }
            for p in report.get("cluster_profiles", [])
        ]
        return {"Cluster profiles (original units)": pd.DataFrame(rows)}
    if problem_type == "dimensionality_reduction":
        rows = [
            {
                "component": c["component"],
                "top loadings": ", ".join(f"{k} {v:+.3f}" for k, v in c["top_loadings"].items()),
            }
            for c in report.get("components", [])
        ]
        return {"Components (explained variance in the metrics)": pd.DataFrame(rows)}
    quantiles = report.get("score_distribution", {})
    return {
        "Anomaly score distribution (training rows)": pd.DataFrame(
            [{"quantile": k, "anomaly_score": v} for k, v in quantiles.items()]
        )
    }


def unsupervised_model_card(
    version: ModelVersion,
    features: pd.DataFrame,
    *,
    spec: ExperimentSpec,
    tracking_uri: str,
    model_digest: str,
    description: str,
    data_sources: list[DataSource],
    quality_score: float | None,
    history: list[dict[str, Any]],
    risk: RiskTier | None,
) -> ModelCard:
    from aurora_pipelines.registry import mlflow_registry
    from aurora_pipelines.registry.unsupervised import training_report

    registered = mlflow_registry.get_model_version(tracking_uri, version.name, version.version)
    report = training_report(tracking_uri, registered.run_id)
    metrics = {
        name: MetricInterval(value, float("nan"), float("nan"))
        for name, value in version.metrics.items()
    }
    evaluation = Evaluation(
        holdout_rows=0,
        train_rows=len(features),
        bootstrap=0,
        confidence=0.95,
        metrics=metrics,
        sensitive_attribute=spec.governance.sensitive_attribute,
    )
    explanation = GlobalExplanation(
        method="feature influence on the output (not SHAP): |Spearman ρ| with the score, or "
        "the largest standardised cluster-mean difference",
        rows=min(len(features), SAMPLE_ROWS),
        importance=_influence(version, features, spec.training.seed),
        interactions=[],
    )
    notes = [
        f"{version.problem_type}: no target, so there is no holdout accuracy; the metrics are "
        "those registered at training (on the seeded search sample), without bootstrap CIs.",
        *report.get("warnings", []),
    ]
    last = version.model.steps[-1][1] if hasattr(version.model, "steps") else version.model
    return ModelCard(
        experiment=spec.name,
        model_name=version.name,
        model_version=str(version.version),
        model_digest=model_digest,
        owner=spec.owner,
        team=spec.team,
        problem_type=version.problem_type,
        target=spec.target or spec.unsupervised.label_column or "none",
        description=spec.description,
        intended_use=spec.governance.intended_use or spec.description,
        training_method=description,
        algorithm=getattr(last, "algorithm", "") or type(last).__name__,
        cv_metrics=dict(version.metrics),
        data_sources=list(data_sources),
        quality_score=quality_score,
        evaluation=evaluation,
        explanation=explanation,
        limitations=[*spec.governance.limitations, *notes],
        approval_history=history,
        risk=risk,
        stated_intended_use=spec.governance.intended_use,
        stated_limitations=list(spec.governance.limitations),
        report_tables=_tables(version.problem_type, report),
    )
