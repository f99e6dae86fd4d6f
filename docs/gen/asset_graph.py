"""Draw the demo experiment's asset graph (assets/asset_graph.png) from the code location.

The picture is the live `Definitions` of `experiments/` (the same graph `make ui` shows):
columns are dependency levels, colours the lifecycle stage (the first part of the key),
blocking gates drawn as diamonds.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mkdocs_gen_files  # noqa: E402

from aurora_pipelines.defs.definitions import build_definitions  # noqa: E402

STAGE_COLOURS = {
    "raw": "#8da0cb",
    "raw_batch": "#8da0cb",
    "eda": "#66c2a5",
    "features": "#a6d854",
    "train": "#fc8d62",
    "explain": "#e5c494",
    "governance": "#e78ac3",
    "deploy": "#ffd92f",
    "serve": "#b3b3b3",
    "monitor": "#e41a1c",
}


def _stage(key) -> str:
    parts = key.path
    return parts[1] if len(parts) > 1 else parts[0]


def draw(experiment: str | None = None) -> bytes:
    graph = build_definitions().resolve_asset_graph()
    levels = graph.toposorted_asset_keys_by_level
    keys = [k for level in levels for k in level]
    if experiment is None:
        experiment = next(k.path[0] for k in keys if len(k.path) > 1 and k.path[1] == "raw")
    wanted = {k for k in keys if k.path[0] == experiment}
    # dbt feature models of the experiment sit under other prefixes: keep the parents/children
    # of the experiment's own assets that are not another experiment's.
    wanted |= {p for k in list(wanted) for p in graph.get(k).parent_keys if len(p.path) <= 2}
    position = {}
    column = 0
    for level in levels:
        row_keys = sorted((k for k in level if k in wanted), key=lambda k: k.to_user_string())
        if not row_keys:
            continue
        for row, key in enumerate(row_keys):
            position[key] = (column, -row - (len(row_keys) - 1) / -2)
        column += 1
    fig, ax = plt.subplots(figsize=(max(8, column * 2.1), 6), dpi=110)
    for key, (x, y) in position.items():
        for parent in graph.get(key).parent_keys:
            if parent in position:
                px, py = position[parent]
                ax.annotate(
                    "",
                    xy=(x - 0.32, y),
                    xytext=(px + 0.32, py),
                    arrowprops={"arrowstyle": "->", "color": "#555555", "lw": 0.8},
                )
    for key, (x, y) in position.items():
        label = "/".join(key.path[1:]) if key.path[0] == experiment else key.to_user_string()
        gated = "approval" in label or label.startswith("governance")
        ax.text(
            x,
            y,
            label.replace("/", "/\n", 1) if len(label) > 18 else label,
            ha="center",
            va="center",
            fontsize=7,
            bbox={
                "boxstyle": "round4,pad=0.4" if not gated else "sawtooth,pad=0.4",
                "facecolor": STAGE_COLOURS.get(_stage(key), "#dddddd"),
                "edgecolor": "#333333",
                "lw": 0.6,
            },
        )
    ax.set_xlim(-0.7, column - 0.3)
    ys = [y for _, y in position.values()]
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    ax.set_title(f"Asset graph of the experiment '{experiment}' (from the code location)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


with mkdocs_gen_files.open("assets/asset_graph.png", "wb") as picture:
    picture.write(draw())
