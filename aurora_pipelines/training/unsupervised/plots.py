"""Plots of an unsupervised result for MLflow: the k curve (silhouette, Calinski-Harabasz,
Davies-Bouldin, BIC per k and algorithm), the explained-variance curve, the anomaly-score
histogram."""

from __future__ import annotations

from pathlib import Path

from aurora_pipelines.training.unsupervised.trainer import UnsupervisedResult


def write_unsupervised_plots(result: UnsupervisedResult, directory: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig, name: str) -> None:  # noqa: ANN001
        path = directory / name
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    if result.problem_type == "clustering" and result.curve:
        metrics = ["silhouette", "calinski_harabasz", "davies_bouldin", "bic"]
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.5))
        for ax, metric in zip(axes, metrics, strict=True):
            for algorithm in dict.fromkeys(p["algorithm"] for p in result.curve):
                points = [p for p in result.curve if p["algorithm"] == algorithm and metric in p]
                if len(points) > 1:
                    ax.plot(
                        [p["k"] for p in points], [p[metric] for p in points], "o-", label=algorithm
                    )
            ax.axvline(result.params.get("k", 0), color="grey", linestyle="--")
            ax.set_title(metric.replace("_", " "))
            ax.set_xlabel("k")
        axes[0].legend(fontsize=7)
        save(fig, "k_curve.png")
    elif result.problem_type == "dimensionality_reduction" and result.curve:
        fig, ax = plt.subplots(figsize=(5, 4))
        for algorithm in dict.fromkeys(p["algorithm"] for p in result.curve):
            points = [p for p in result.curve if p["algorithm"] == algorithm]
            ax.plot(
                [p["component"] for p in points],
                [p["cumulative"] for p in points],
                "o-",
                label=algorithm,
            )
        target = result.params.get("variance_target")
        if target:
            ax.axhline(target, color="grey", linestyle="--", label="variance target")
        ax.set_xlabel("components")
        ax.set_ylabel("cumulative explained variance")
        ax.legend(fontsize=7)
        save(fig, "explained_variance.png")
    elif result.problem_type == "anomaly_detection":
        quantiles = result.report.get("score_distribution", {})
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.bar(range(len(quantiles)), list(quantiles.values()), tick_label=list(quantiles))
        ax.set_title("anomaly score quantiles (training rows)")
        save(fig, "score_distribution.png")
    return written
