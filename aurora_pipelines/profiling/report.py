"""Write a profile as JSON, or as one self-contained HTML page (inline CSS and PNG data URIs,
no scripts, nothing fetched)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from aurora_pipelines.profiling.profile import ColumnProfile, Profile
from aurora_pipelines.profiling.quality import WEIGHTS

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2933}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d9e2ec;padding-bottom:.3rem}
.muted{color:#627d98}.score{font-size:2.4rem;font-weight:700}
.good{color:#1b7f3b}.warn{color:#b7791f}.bad{color:#c53030}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
th,td{border:1px solid #d9e2ec;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#f0f4f8}td.l,th.l{text-align:left}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d9e2ec;border-radius:6px;
padding:.6rem 1rem;min-width:8rem}.card b{display:block;font-size:1.3rem}
"""


def write_profile_json(profile: Profile, path: Path) -> Path:
    """Write `profile.to_dict()` as indented JSON; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile.to_dict(), indent=2, allow_nan=False))
    return path


def write_profile_html(profile: Profile, path: Path) -> Path:
    """Write a readable, self-contained HTML page for the profile; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_profile_html(profile), encoding="utf-8")
    return path


def render_profile_html(profile: Profile, plots: bool = True) -> str:
    s = profile.sampling
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Profile: {profile.rows:,} rows</title><style>{_CSS}</style></head><body>",
        "<h1>Data profile</h1>",
        f"<p class='muted'>Profiled at {escape(profile.profiled_at)} &middot; target: "
        f"{escape(profile.target or '-')} &middot; "
        f"id column: {escape(profile.id_column or '-')}</p>",
        "<div class='cards'>",
        f"<div class='card'>Quality score<b class='{_grade(profile.quality_score)}'>"
        f"{profile.quality_score:.1f}</b></div>",
        f"<div class='card'>Rows<b>{profile.rows:,}</b></div>",
        f"<div class='card'>Columns<b>{profile.column_count}</b></div>",
        f"<div class='card'>Duplicate rows (sample)<b>{profile.duplicate_rows:,}</b></div>",
        f"<div class='card'>Constant columns<b>{len(profile.constant_columns)}</b></div>",
        "</div>",
        f"<p class='muted'>Counts, missing values, distinct (approx., rsd "
        f"{profile.approx_distinct_rsd}), min/max/mean/std: full table. Quantiles, outliers, top "
        f"values, associations, correlations, duplicates: {escape(s.method)} sample of "
        f"{s.rows:,} rows (fraction {s.fraction:.4g}, seed {s.seed}). Why this sample: "
        f"{escape(s.reason)}.</p>",
        "<h2>Quality breakdown</h2>",
        _table(
            ["component", "weight", "score"],
            [
                [name, f"{WEIGHTS.get(name, 0):.2f}", _score_cell(score)]
                for name, score in profile.quality_breakdown.items()
            ],
            raw_cols={2},
        ),
    ]
    if profile.warnings or profile.leakage_hints:
        items = [escape(w) for w in profile.warnings] + [
            "<b>Possible leakage:</b> " + escape(h["message"]) for h in profile.leakage_hints
        ]
        parts += ["<h2>Warnings</h2><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"]
    if profile.class_balance:
        parts += [
            "<h2>Target class balance</h2>",
            _table(
                ["value", "share"],
                [[k, f"{100 * v:.2f}%"] for k, v in profile.class_balance.items()],
            ),
        ]
    parts += ["<h2>Columns</h2>", _columns_table(profile.columns)]
    parts += ["<h2>Column details</h2>"] + [_column_details(c) for c in profile.columns]
    if profile.correlations:
        parts += ["<h2>Correlations (Pearson, sample)</h2>", _correlation_table(profile)]
    if plots:
        from aurora_pipelines.profiling.plots import all_plots

        for title, uri in all_plots(profile).items():
            parts += [f"<h2>{escape(title)}</h2>", f"<img alt='{escape(title)}' src='{uri}'>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def _grade(score: float) -> str:
    return "good" if score >= 90 else "warn" if score >= 75 else "bad"


def _score_cell(score: float) -> str:
    return f"<span class='{_grade(score)}'>{score:.1f}</span>"


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _table(headers: list[str], rows: list[list[object]], raw_cols: set[int] | None = None) -> str:
    raw_cols = raw_cols or set()
    head = "".join(
        f"<th class='l'>{escape(h)}</th>" if i == 0 else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            text = str(value) if i in raw_cols else escape(_fmt(value))
            cells.append(f"<td class='l'>{text}</td>" if i == 0 else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _columns_table(columns: list[ColumnProfile]) -> str:
    headers = [
        "column",
        "type",
        "semantic",
        "missing %",
        "distinct",
        "invalid %",
        "min",
        "max",
        "mean",
        "IQR outl. %",
        "target assoc.",
        "quality",
    ]
    rows = [
        [
            c.name,
            c.spark_type,
            c.semantic_type.value,
            c.missing_pct,
            c.distinct,
            c.invalid_pct,
            c.min,
            c.max,
            c.mean,
            c.iqr_outlier_pct,
            f"{c.target_association:.3f} ({c.association_method})"
            if c.target_association is not None
            else None,
            _score_cell(c.quality_score),
        ]
        for c in columns
    ]
    return _table(headers, rows, raw_cols={11})


def _column_details(c: ColumnProfile) -> str:
    stats_rows = [
        [k, getattr(c, k)]
        for k in (
            "non_null",
            "missing",
            "distinct",
            "invalid",
            "min",
            "max",
            "mean",
            "std",
            "p01",
            "p25",
            "p50",
            "p75",
            "p99",
            "iqr_outliers",
            "zscore_outliers",
            "zscore_outlier_pct",
        )
        if getattr(c, k) is not None
    ]
    body = [_table(["statistic", "value"], stats_rows)]
    body.append(
        _table(
            ["quality component", "score"],
            [[k, _score_cell(v)] for k, v in c.quality_breakdown.items()],
            raw_cols={1},
        )
    )
    if c.top_values:
        body.append(
            _table(
                ["top value (sample)", "count", "%"],
                [[t.value, t.count, t.pct] for t in c.top_values],
            )
        )
    if c.notes:
        body.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in c.notes) + "</ul>")
    return (
        f"<details><summary>{escape(c.name)} <span class='muted'>({c.semantic_type.value}, "
        f"quality {c.quality_score:.1f})</span></summary>{''.join(body)}</details>"
    )


def _correlation_table(profile: Profile) -> str:
    names = list(profile.correlations)
    rows = []
    for r in names:
        cells = [f"<td class='l'>{escape(r)}</td>"]
        for c in names:
            v = profile.correlations[r].get(c)
            if v is None:
                cells.append("<td></td>")
                continue
            # Colour by strength: red for positive, blue for negative.
            alpha = min(1.0, abs(v)) * 0.6
            colour = f"rgba(197,48,48,{alpha:.2f})" if v > 0 else f"rgba(43,108,176,{alpha:.2f})"
            cells.append(f"<td style='background:{colour}'>{v:.2f}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "<th></th>" + "".join(f"<th>{escape(n)}</th>" for n in names)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
