"""Plots and tables as Markdown, for metadata people read in the Dagster UI.

A PNG becomes a base64 data-URI Markdown image: the asset's metadata then carries the picture
itself, with no file server to run. Plots are drawn small (low dpi) because every
materialization stores its metadata in the Dagster event log.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from aurora_pipelines.results import Markdown

# Above this a plot is left out of the metadata (it stays in the HTML report): the event log
# is a database row per event, not a file store.
MAX_IMAGE_BYTES = 400_000


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display on servers)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig: Any, dpi: int = 70) -> bytes:
    plt = pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def image_markdown(title: str, png: bytes | str | Path) -> Markdown | None:
    """`![title](data:image/png;base64,...)` from PNG bytes, a PNG file or a data URI."""
    if isinstance(png, Path):
        if not png.is_file():
            return None
        png = png.read_bytes()
    if isinstance(png, bytes):
        png = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    if len(png) > MAX_IMAGE_BYTES:
        return None
    return Markdown(f"**{title}**\n\n![{title}]({png})")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table_markdown(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Markdown:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def bar_chart(title: str, values: dict[str, float], xlabel: str, limit: float | None = None):
    """A horizontal bar chart (largest on top) as PNG bytes, with an optional threshold line."""
    plt = pyplot()
    items = sorted(values.items(), key=lambda kv: kv[1])[-25:]
    fig, ax = plt.subplots(figsize=(6, 0.25 * len(items) + 1.2))
    colors = ["#c53030" if limit is not None and v > limit else "#2b6cb0" for _, v in items]
    ax.barh([k for k, _ in items], [v for _, v in items], color=colors)
    if limit is not None:
        ax.axvline(limit, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    return figure_png(fig)


def line_chart(title: str, points: Sequence[tuple[str, float]], ylabel: str, limit=None):
    """A line over (label, value) points as PNG bytes (e.g. drift share per day)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", color="#2b6cb0")
    if limit is not None:
        ax.axhline(limit, color="#c53030", linestyle="--", linewidth=1)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    return figure_png(fig)


def histogram_chart(
    title: str, edges: Sequence[float], series: dict[str, Sequence[int]], xlabel: str
) -> bytes:
    """Counts of several series over the same bins (`edges`, one more than counts) as
    overlaid step histograms, PNG bytes: e.g. champion vs challenger scores."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    colors = ["#2b6cb0", "#dd6b20", "#38a169"]
    for (label, counts), color in zip(series.items(), colors, strict=False):
        ax.stairs(list(counts), list(edges), label=label, color=color, fill=False, linewidth=1.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("rows")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    return figure_png(fig)
