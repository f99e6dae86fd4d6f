"""Build and write the model card of one registered model version (what the asset calls)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from aurora_pipelines.explain.model_card import (
    DataSource,
    ModelCard,
    ModelCardFiles,
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

    from aurora_pipelines.registry.mlflow_registry import get_model_version, load_model

    model = load_model(tracking_uri, model_name, model_version)
    description = (
        MlflowClient(tracking_uri=tracking_uri)
        .get_model_version(model_name, model_version)
        .description
    )
    registered = get_model_version(tracking_uri, model_name, model_version)
    history: list[dict[str, Any]] = []
    if governance is not None:
        requests = governance.list_requests(experiment=spec.name)
        history = approval_history([r for r in requests if r.model_name == model_name])
    card = build_model_card(
        model,
        features,
        experiment=spec.name,
        model_name=model_name,
        model_version=model_version,
        model_digest=model_digest,
        owner=spec.owner,
        team=spec.team,
        problem_type=spec.problem_type.value,
        target=spec.target,
        primary_metric=spec.training.primary_metric,
        description=spec.description,
        intended_use=spec.governance.intended_use,
        training_method=description or "",
        algorithm=type(aurora_pipeline(model).named_steps["model"]).__name__,
        cv_metrics=registered.metrics,
        data_sources=data_sources,
        quality_score=quality_score,
        sensitive_attribute=spec.governance.sensitive_attribute,
        limitations=spec.governance.limitations,
        approval_history=history,
        seed=spec.training.seed,
    )
    inputs = list(aurora_pipeline(model).named_steps["preprocess"].feature_names_in_)
    background = features[inputs].sample(
        n=min(BACKGROUND_ROWS, len(features)), random_state=spec.training.seed
    )
    files = write_model_card(
        card, model_card_dir(reports_dir, spec.name, model_version), background
    )
    return card, files
