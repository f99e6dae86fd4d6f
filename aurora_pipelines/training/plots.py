"""Evaluation plots of a training result, as PNG files for MLflow and the model card.

Classification: ROC and precision-recall curves (binary: positive class; multiclass: one
curve per class), the confusion matrix at the decision threshold. Regression: residuals
against predictions and their distribution. Both: permutation feature importance.
Drawn from held-out rows when there is a holdout, else from out-of-fold predictions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aurora_pipelines.training.trainer import TrainingResult

MAX_FEATURES_SHOWN = 20


def write_plots(result: TrainingResult, directory: Path) -> list[Path]:
    """Write the plots that apply to `result` into `directory`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    evaluation = result.evaluation
    if evaluation is None:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    where = "holdout" if evaluation.source == "holdout" else "out-of-fold"

    def save(fig, name: str) -> None:
        path = directory / name
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    if result.problem_type == "classification":
        from sklearn.metrics import (
            ConfusionMatrixDisplay,
            PrecisionRecallDisplay,
            RocCurveDisplay,
        )

        labels = evaluation.classes or []
        curves = [1] if len(labels) == 2 else list(range(len(labels)))
        for name, display in (
            ("roc_curve.png", RocCurveDisplay),
            ("pr_curve.png", PrecisionRecallDisplay),
        ):
            fig, ax = plt.subplots(figsize=(5, 4))
            for k in curves:
                display.from_predictions(
                    evaluation.y == k, evaluation.scores[:, k], name=f"class {labels[k]}", ax=ax
                )
            ax.set_title(
                f"{result.best_algorithm}: {name.split('.')[0].replace('_', ' ')} ({where})"
            )
            save(fig, name)
        if len(labels) == 2 and result.decision_threshold is not None:
            predicted = (evaluation.scores[:, 1] >= result.decision_threshold).astype(int)
            caption = f"threshold {result.decision_threshold:.3f}"
        else:
            predicted = evaluation.scores.argmax(axis=1)
            caption = "most probable class"
        fig, ax = plt.subplots(figsize=(5, 4))
        ConfusionMatrixDisplay.from_predictions(
            evaluation.y, predicted, labels=list(range(len(labels))), display_labels=labels, ax=ax
        )
        ax.set_title(f"confusion matrix ({where}, {caption})")
        save(fig, "confusion_matrix.png")
    else:
        residuals = evaluation.y - evaluation.scores
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
        left.scatter(evaluation.scores, residuals, s=4, alpha=0.4)
        left.axhline(0, color="black", linewidth=1)
        left.set_xlabel("prediction")
        left.set_ylabel("residual (actual - predicted)")
        right.hist(residuals, bins=50)
        right.set_xlabel("residual")
        fig.suptitle(f"{result.best_algorithm}: residuals ({where})")
        save(fig, "residuals.png")

    if result.feature_importance:
        items = list(result.feature_importance.items())[:MAX_FEATURES_SHOWN][::-1]
        fig, ax = plt.subplots(figsize=(6, max(3, 0.3 * len(items) + 1)))
        ax.barh([name for name, _ in items], [value for _, value in items])
        ax.set_xlabel(f"drop in {result.primary_metric} when shuffled")
        ax.set_title("permutation feature importance (holdout)")
        save(fig, "feature_importance.png")
    return written


def residual_summary(result: TrainingResult) -> dict[str, float]:
    """Mean, spread and tail of the residuals (regression); empty for classification."""
    evaluation = result.evaluation
    if evaluation is None or result.problem_type != "regression":
        return {}
    residuals = evaluation.y - evaluation.scores
    return {
        "residual_mean": float(np.mean(residuals)),
        "residual_std": float(np.std(residuals)),
        "residual_abs_p95": float(np.quantile(np.abs(residuals), 0.95)),
    }


# The evaluation plots shown in train/model's metadata (all of them are in the MLflow run).
METADATA_PLOTS = {
    "roc_curve.png": ("roc_curve_plot", "ROC curve"),
    "pr_curve.png": ("pr_curve_plot", "Precision-recall curve"),
    "residuals.png": ("residuals_plot", "Residuals"),
    "feature_importance.png": ("feature_importance_plot", "Permutation feature importance"),
}


def metadata_plots(result: TrainingResult) -> dict[str, Any]:
    """ROC/PR (or residuals) and importance as embedded Markdown images for the Dagster UI."""
    import tempfile

    from aurora_pipelines.plot_markdown import image_markdown

    views: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="aurora-plots-") as tmp:
        for path in write_plots(result, Path(tmp)):
            if path.name in METADATA_PLOTS:
                name, title = METADATA_PLOTS[path.name]
                views[name] = image_markdown(title, path)
    return {name: view for name, view in views.items() if view is not None}
