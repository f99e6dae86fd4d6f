"""Profile plots as PNG data URIs (matplotlib, Agg backend), so the HTML report is one file.

Every plot is drawn from numbers already in the profile (no data is re-read): histograms from
the sample bins, missingness from full-table counts, heatmaps from the correlation matrices.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurora_pipelines.profiling.profile import Profile

MAX_HISTOGRAMS = 24
MAX_HEATMAP = 30


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def missingness(profile: Profile) -> str:
    plt = _pyplot()
    names = [c.name for c in profile.columns]
    values = [c.missing_pct for c in profile.columns]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(names) + 1))
    ax.barh(names, values, color="#c53030")
    ax.invert_yaxis()
    ax.set_xlabel("missing % (full table)")
    ax.set_xlim(0, max(5.0, max(values, default=0) * 1.1))
    return _png(fig)


def histograms(profile: Profile) -> str | None:
    columns = [c for c in profile.columns if c.histogram and len(c.histogram["counts"]) > 1]
    columns = columns[:MAX_HISTOGRAMS]
    if not columns:
        return None
    plt = _pyplot()
    cols = 4
    rows = (len(columns) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.2 * rows), squeeze=False)
    for ax, c in zip(axes.flat, columns, strict=False):
        edges, counts = c.histogram["edges"], c.histogram["counts"]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        ax.bar(edges[:-1], counts, width=widths, align="edge", color="#2b6cb0")
        tails = c.histogram["below"] + c.histogram["above"]
        ax.set_title(c.name + (f"  (+{tails} outside p01-p99)" if tails else ""), fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(columns) :]:
        ax.axis("off")
    fig.tight_layout()
    return _png(fig)


def heatmap(matrix: dict[str, dict[str, float]], title: str, signed: bool = True) -> str | None:
    names = list(matrix)[:MAX_HEATMAP]
    if len(names) < 2:
        return None
    plt = _pyplot()
    grid = [[matrix[r].get(c, float("nan")) for c in names] for r in names]
    fig, ax = plt.subplots(figsize=(0.35 * len(names) + 2.5, 0.35 * len(names) + 2))
    image = ax.imshow(grid, cmap="RdBu_r" if signed else "Reds", vmin=-1 if signed else 0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.7)
    return _png(fig)


def target_association(profile: Profile) -> str | None:
    pairs = sorted(
        (
            (c.name, abs(c.target_association), c.association_method or "")
            for c in profile.columns
            if c.target_association is not None
        ),
        key=lambda p: p[1],
    )
    if not pairs:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(pairs) + 1))
    ax.barh([p[0] for p in pairs], [p[1] for p in pairs], color="#1b7f3b")
    ax.set_xlabel(f"|association| with target '{profile.target}'")
    ax.set_xlim(0, 1)
    return _png(fig)


def all_plots(profile: Profile) -> dict[str, str]:
    """Title -> PNG data URI, for the plots the profile has data for."""
    plots = {
        "Missing values": missingness(profile),
        "Distributions (sample)": histograms(profile),
        "Pearson correlation (sample)": heatmap(profile.correlations, "Pearson"),
        "Spearman correlation (sample)": heatmap(profile.spearman, "Spearman"),
        "Cramér's V (sample)": heatmap(profile.cramers_v, "Cramér's V", signed=False),
        "Association with the target (sample)": target_association(profile),
    }
    return {title: uri for title, uri in plots.items() if uri}


# Shown in the asset's metadata: a handful of histograms (the HTML report has them all).
METADATA_HISTOGRAMS = 8


def metadata_views(profile: Profile) -> dict[str, Any]:
    """What the Dagster UI shows of a profile: the quality breakdown and the top warnings as
    tables, histograms and missingness as embedded images (Markdown values)."""
    from aurora_pipelines import plot_markdown as pm

    weights = profile.quality_weights
    breakdown = pm.table_markdown(
        ["component", "score (0-100)", "weight"],
        [(name, score, weights.get(name, "")) for name, score in profile.quality_breakdown.items()],
    )
    warnings = pm.table_markdown(["#", "warning"], list(enumerate(profile.warnings[:10], 1)))
    short = profile.model_copy(
        update={"columns": [c for c in profile.columns if c.histogram][:METADATA_HISTOGRAMS]}
    )
    views: dict[str, Any] = {
        "quality_breakdown_table": breakdown,
        "top_warnings": warnings if profile.warnings else pm.Markdown("no warnings"),
    }
    for name, title, uri in (
        ("histograms_plot", "Distributions (sample)", histograms(short)),
        ("missing_values_plot", "Missing values (full table)", missingness(profile)),
    ):
        if uri:
            views[name] = pm.image_markdown(title, uri)
    return views
