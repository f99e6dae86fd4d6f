"""Build and write the model card of one registered model version (what the asset calls)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from aurora_pipelines.explain.model_card import (
    DataSource,
    ModelCard,
    ModelCardFiles,
    RiskTier,
    approval_history,
    build_model_card,
    write_model_card,
)
from aurora_pipelines.explain.shap_values import BACKGROUND_ROWS, aurora_pipeline

if TYPE_CHECKING:
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.specs import ExperimentSpec


def model_card_dir(reports_dir: Path, experiment: str, version: str | int) -> Path:
    """Where the card of one model version lives: one directory per version, never reused."""
    return Path(reports_dir) / experiment / "model_card" / f"v{version}"


def model_card_paths(reports_dir: Path, experiment: str, version: str | int) -> dict[str, str]:
    """The card's files for an approval request's details, if the card was written."""
    folder = model_card_dir(reports_dir, experiment, version)
    html, md = folder / "model_card.html", folder / "model_card.md"
    if not html.exists():
        return {}
    return {"model_card": str(html), "model_card_markdown": str(md)}


def risk_tier(spec: ExperimentSpec, governance: GovernanceStore | None) -> RiskTier | None:
    """The experiment's risk tier under the store's policy, with its chain, for the card."""
    if governance is None:
        return None
    from aurora_pipelines.governance.tiers import assess_tier, describe_requirements, gate_chain

    policy = governance.policy
    risk = spec.governance.risk
    assessed = assess_tier(policy, risk)
    return RiskTier(
        tier=assessed.tier,
        reason=assessed.reason,
        answers=None if risk is None else risk.model_dump(mode="json"),
        chain=gate_chain(policy, assessed.tier),
        requirements=describe_requirements(policy, assessed.tier),
    )


def generate_model_card(
    *,
    spec: ExperimentSpec,
    tracking_uri: str,
    model_name: str,
    model_version: str,
    model_digest: str,
    features: pd.DataFrame,
    data_sources: list[DataSource],
    quality_score: float | None,
    reports_dir: Path,
    governance: GovernanceStore | None = None,
) -> tuple[ModelCard, ModelCardFiles]:
    """Load the version from MLflow (digest-checked), evaluate, explain and write its card."""
    from mlflow import MlflowClient

    from aurora_pipelines.registry.model_version import load_experiment_version
    from aurora_pipelines.serving.batch import is_spark_model

    version = load_experiment_version(tracking_uri, spec, model_version, name=model_name)
    model = version.model
    description = (
        MlflowClient(tracking_uri=tracking_uri)
        .get_model_version(model_name, model_version)
        .description
    ) or ""
    history: list[dict[str, Any]] = []
    if governance is not None:
        requests = governance.list_requests(experiment=spec.name)
        history = approval_history([r for r in requests if r.model_name == model_name])
    risk = risk_tier(spec, governance)
    if version.is_unsupervised:
        from aurora_pipelines.explain.unsupervised_card import unsupervised_model_card

        card = unsupervised_model_card(
            version,
            features,
            spec=spec,
            tracking_uri=tracking_uri,
            model_digest=model_digest,
            description=description,
            data_sources=data_sources,
            quality_score=quality_score,
            history=history,
            risk=risk,
        )
        inputs = list(version.input_columns)
    elif is_spark_model(model):
        card = _spark_model_card(
            model,
            spec=spec,
            model_name=model_name,
            model_version=model_version,
            model_digest=model_digest,
            description=description,
            metrics=version.metrics,
            data_sources=data_sources,
            quality_score=quality_score,
            history=history,
            risk=risk,
        )
        inputs = list(version.input_columns)
    else:
        card = _sklearn_model_card(
            model,
            features,
            spec=spec,
            model_name=model_name,
            model_version=model_version,
            model_digest=model_digest,
            description=description,
            version=version,
            data_sources=data_sources,
            quality_score=quality_score,
            history=history,
            risk=risk,
        )
        inputs = list(aurora_pipeline(model).named_steps["preprocess"].feature_names_in_)
    # Every kind of card carries the questionnaire and the data dictionary (workspace/).
    card.objective = spec.questionnaire.as_markdown() if spec.questionnaire else ""
    card.data_dictionary = _dictionary_rows(spec)
    background = features[inputs].sample(
        n=min(BACKGROUND_ROWS, len(features)), random_state=spec.training.seed
    )
    files = write_model_card(
        card, model_card_dir(reports_dir, spec.name, model_version), background
    )
    return card, files


def _sklearn_model_card(
    model: Any,
    features: pd.DataFrame,
    *,
    spec: ExperimentSpec,
    model_name: str,
    model_version: str,
    model_digest: str,
    description: str,
    version: Any,
    data_sources: list[DataSource],
    quality_score: float | None,
    history: list[dict[str, Any]],
    risk: RiskTier | None,
) -> ModelCard:
    """An in-process (sklearn/torch) version's card: SHAP, holdout CIs, slices."""
    return build_model_card(
        model,
        features,
        experiment=spec.name,
        model_name=model_name,
        model_version=model_version,
        model_digest=model_digest,
        owner=spec.owner,
        team=spec.team,
        problem_type=version.problem_type,
        target=spec.target,
        # The metric the version was trained on (the plan's), not the spec's default.
        primary_metric=version.primary_metric,
        description=spec.description,
        intended_use=spec.governance.intended_use,
        training_method=description,
        algorithm=type(aurora_pipeline(model).named_steps["model"]).__name__,
        cv_metrics=version.metrics,
        data_sources=data_sources,
        quality_score=quality_score,
        sensitive_attribute=spec.governance.sensitive_attribute,
        limitations=spec.governance.limitations,
        approval_history=history,
        risk=risk,
        seed=spec.training.seed,
    )


def _spark_model_card(
    model: Any,
    *,
    spec: ExperimentSpec,
    model_name: str,
    model_version: str,
    model_digest: str,
    description: str,
    metrics: dict[str, float],
    data_sources: list[DataSource],
    quality_score: float | None,
    history: list[dict[str, Any]],
    risk: RiskTier | None = None,
) -> ModelCard:
    """The card of a Spark MLlib model: the registered holdout metrics, lineage and history.

    SHAP explains in-process pipelines; a Spark PipelineModel is not explained here (and
    the bootstrap CIs and slice metrics, which refit a clone in process, are not computed),
    which the card states rather than failing.
    """
    from aurora_pipelines.explain.evaluation import Evaluation, MetricInterval
    from aurora_pipelines.explain.shap_values import GlobalExplanation

    holdout = {
        name.removeprefix("holdout_"): MetricInterval(value, float("nan"), float("nan"))
        for name, value in metrics.items()
        if name.startswith("holdout_")
    }
    evaluation = Evaluation(
        holdout_rows=0,
        train_rows=0,
        bootstrap=0,
        confidence=0.95,
        metrics=holdout,
        sensitive_attribute=spec.governance.sensitive_attribute,
    )
    explanation = GlobalExplanation(
        method="not computed (Spark MLlib model)",
        rows=0,
        importance=pd.DataFrame(columns=["feature", "mean_abs_shap", "share"]),
        interactions=[],
    )
    notes = [
        "Spark MLlib model: SHAP explanations are not computed for Spark PipelineModels, so "
        "this card has no feature importance; explain an in-process (sklearn) model trained "
        "on a sample if one is needed.",
        "Holdout metrics are those registered at training time (the seeded holdout split on "
        "Spark), without bootstrap confidence intervals or slice metrics.",
    ]
    return ModelCard(
        experiment=spec.name,
        model_name=model_name,
        model_version=str(model_version),
        model_digest=model_digest,
        owner=spec.owner,
        team=spec.team,
        problem_type=spec.problem_type.value,
        target=spec.target,
        description=spec.description,
        intended_use=spec.governance.intended_use or spec.description,
        training_method=description,
        algorithm=type(model.stages[-1]).__name__,
        cv_metrics=dict(metrics),
        data_sources=list(data_sources),
        quality_score=quality_score,
        evaluation=evaluation,
        explanation=explanation,
        limitations=[*spec.governance.limitations, *notes],
        approval_history=history,
        risk=risk,
        stated_intended_use=spec.governance.intended_use,
        stated_limitations=list(spec.governance.limitations),
    )


def _dictionary_rows(spec: ExperimentSpec) -> list[dict[str, Any]]:
    """The data dictionary in the experiment's dbt sources YAML, when generated."""
    from aurora_pipelines.settings import get_settings
    from aurora_pipelines.workspace.dictionary import read_entries

    return read_entries(get_settings(), spec)
