"""The model card of one model version, in Markdown and HTML, for the checker to review.

It states intended use, data sources with versions and quality score, training method and
search, holdout metrics with bootstrap confidence intervals, SHAP global importance (plot and
table) with top interactions, metrics by slice of the declared sensitive attribute with a
disparity ratio, limitations, the risk tier with its gate chain, and the approval history.
Every text that came from a person (comments, descriptions) is HTML-escaped. Next to the HTML
and Markdown, `model_card.json` holds the facts compliance requirements are checked against
(governance/compliance.py): what the spec stated, the slices, the holdout CIs.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from aurora_pipelines.explain.evaluation import Evaluation, evaluate_holdout
from aurora_pipelines.explain.shap_values import GlobalExplanation, aurora_pipeline, explain_global

FOUR_FIFTHS = 0.8
BACKGROUND_FILE = "shap_background.parquet"
FACTS_FILE = "model_card.json"


@dataclass(frozen=True)
class RiskTier:
    """The experiment's risk tier as the policy assessed it, and the chain it implies."""

    tier: str | None
    reason: str
    answers: dict[str, Any] | None = None
    chain: list[tuple[str, str]] = field(default_factory=list)  # (gate, who decides it)
    requirements: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DataSource:
    name: str
    location: str
    version: str | None = None


@dataclass
class ModelCard:
    experiment: str
    model_name: str
    model_version: str
    model_digest: str
    owner: str
    team: str
    problem_type: str
    target: str
    description: str
    intended_use: str
    training_method: str
    algorithm: str
    cv_metrics: dict[str, float]
    data_sources: list[DataSource]
    quality_score: float | None
    evaluation: Evaluation
    explanation: GlobalExplanation
    limitations: list[str]
    approval_history: list[dict[str, Any]]
    generated_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )
    risk: RiskTier | None = None
    # What a person stated in the spec (the card adds generated notes and fallbacks to these).
    stated_intended_use: str = ""
    stated_limitations: list[str] = field(default_factory=list)
    # The experiment's questionnaire (Markdown) and data dictionary rows (workspace/).
    objective: str = ""
    data_dictionary: list[dict[str, Any]] = field(default_factory=list)

    # Unsupervised versions: cluster profiles / components / score distribution, by title.
    report_tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Small JSON-ready facts for asset metadata and the approval request."""
        top = self.explanation.importance.head(5)
        return {
            "model_version": self.model_version,
            "holdout_metrics": {k: round(v.value, 4) for k, v in self.evaluation.metrics.items()},
            "top_features": list(top["feature"]),
            "disparity_ratio": self.evaluation.disparity_ratio,
            "sensitive_attribute": self.evaluation.sensitive_attribute,
            "risk_tier": self.risk.tier if self.risk else None,
        }

    def metadata_views(self) -> dict[str, Any]:
        """The card's summary as a Markdown table and its SHAP importance as an embedded
        bar chart, for the Dagster UI (the full card is the HTML file)."""
        from aurora_pipelines import plot_markdown as pm

        summary = self.summary()
        rows = [(f"holdout {k}", v) for k, v in summary["holdout_metrics"].items()]
        rows += [
            ("top features", ", ".join(summary["top_features"])),
            ("disparity ratio", summary["disparity_ratio"]),
            ("sensitive attribute", summary["sensitive_attribute"]),
            ("risk tier", summary["risk_tier"]),
        ]
        views: dict[str, Any] = {
            "card_summary": pm.table_markdown(
                ["fact", "value"], [(k, "n/a" if v is None else v) for k, v in rows]
            )
        }
        top = self.explanation.importance.head(15)
        if not top.empty:
            chart = pm.bar_chart(
                f"mean |SHAP| ({self.explanation.method})",
                dict(zip(top["feature"], top["mean_abs_shap"].astype(float), strict=True)),
                "mean |SHAP value|",
            )
            views["shap_importance_plot"] = pm.image_markdown("SHAP importance", chart)
        return {k: v for k, v in views.items() if v is not None}

    def facts(self) -> dict[str, Any]:
        """What compliance requirements are checked against (written as model_card.json)."""
        ev = self.evaluation
        slices = [] if ev.slices is None or ev.slices.empty else ev.slices.to_dict("records")
        return _finite(
            {
                "experiment": self.experiment,
                "model_name": self.model_name,
                "model_version": self.model_version,
                "model_digest": self.model_digest,
                "generated_at": self.generated_at,
                "risk_tier": self.risk.tier if self.risk else None,
                "risk_answers": self.risk.answers if self.risk else None,
                "sections": {
                    "intended_use": self.stated_intended_use,
                    "limitations": list(self.stated_limitations),
                    "data_sources": [
                        {"name": s.name, "location": s.location, "version": s.version}
                        for s in self.data_sources
                    ],
                    "slices": slices,
                },
                "sensitive_attribute": ev.sensitive_attribute,
                "disparity_ratio": ev.disparity_ratio,
                "metric_ratio": ev.metric_ratio,
                "holdout_metrics": {
                    name: {"value": m.value, "low": m.low, "high": m.high}
                    for name, m in ev.metrics.items()
                },
            }
        )


def _finite(value: Any) -> Any:
    """NaN and infinities as null: JSON has no NaN, and a missing CI must read as missing."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _finite(value.item())
    return value


@dataclass(frozen=True)
class ModelCardFiles:
    html: Path
    markdown: Path
    plot: Path
    background: Path
    facts: Path | None = None


def build_model_card(
    model: Any,
    frame: pd.DataFrame,
    *,
    experiment: str,
    model_name: str,
    model_version: str,
    model_digest: str,
    owner: str,
    team: str,
    problem_type: str,
    target: str,
    primary_metric: str,
    description: str = "",
    intended_use: str = "",
    training_method: str = "",
    algorithm: str = "",
    cv_metrics: dict[str, float] | None = None,
    data_sources: list[DataSource] | None = None,
    quality_score: float | None = None,
    sensitive_attribute: str | None = None,
    limitations: list[str] | None = None,
    approval_history: list[dict[str, Any]] | None = None,
    risk: RiskTier | None = None,
    seed: int = 42,
    shap_rows: int = 200,
    max_eval_rows: int = 10_000,
) -> ModelCard:
    """Evaluate and explain `model` on `frame` (its feature table) and assemble the card."""
    evaluation = evaluate_holdout(
        model,
        frame,
        target=target,
        problem_type=problem_type,
        primary_metric=primary_metric,
        sensitive_attribute=sensitive_attribute,
        seed=seed,
        max_rows=max_eval_rows,
    )
    explanation = explain_global(model, frame, max_rows=shap_rows, seed=seed)
    inputs = [str(c) for c in aurora_pipeline(model).named_steps["preprocess"].feature_names_in_]
    notes = [
        f"Metrics come from a {evaluation.holdout_rows}-row holdout of a sample of the feature "
        f"table, with a clone of the pipeline refit on {evaluation.train_rows} rows; the "
        "registered model itself was refit on all rows.",
        f"SHAP values ({explanation.method} explainer, {explanation.rows} rows) are computed on "
        "transformed features; one-hot columns are summed back into their input column. "
        "Interactions are SHAP's approximation, not exact interaction values.",
    ]
    if sensitive_attribute and sensitive_attribute in inputs:
        notes.append(
            f"The sensitive attribute '{sensitive_attribute}' is a model input; review whether "
            "its use is permitted for this purpose."
        )
    ratio = evaluation.disparity_ratio
    if ratio is not None and ratio < FOUR_FIFTHS:
        notes.append(
            f"Disparity ratio {ratio:.2f} across '{sensitive_attribute}' is below the "
            f"four-fifths guideline ({FOUR_FIFTHS}); document a justification or mitigate."
        )
    notes += evaluation.notes
    return ModelCard(
        experiment=experiment,
        model_name=model_name,
        model_version=str(model_version),
        model_digest=model_digest,
        owner=owner,
        team=team,
        problem_type=problem_type,
        target=target,
        description=description,
        intended_use=intended_use or description,
        training_method=training_method,
        algorithm=algorithm,
        cv_metrics=dict(cv_metrics or {}),
        data_sources=list(data_sources or []),
        quality_score=quality_score,
        evaluation=evaluation,
        explanation=explanation,
        limitations=[*(limitations or []), *notes],
        approval_history=list(approval_history or []),
        risk=risk,
        stated_intended_use=intended_use,
        stated_limitations=list(limitations or []),
    )


def importance_plot(card: ModelCard, top: int = 15) -> bytes:
    """Horizontal bar chart of mean |SHAP| per feature, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = card.explanation.importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(data) + 1.2), dpi=110)
    ax.barh(data["feature"], data["mean_abs_shap"], color="#3b6ea8")
    ax.set_xlabel("mean |SHAP value|")
    ax.set_title(f"{card.model_name} v{card.model_version}: global feature importance")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.4f}"  # NaN check
    return "n/a" if value is None else str(value)


def _sections(card: ModelCard) -> list[tuple[str, list[tuple[str, Any]] | pd.DataFrame | str]]:
    ev = card.evaluation
    metrics = pd.DataFrame(
        [
            {
                "metric": name,
                "holdout": _fmt(m.value),
                f"{int(ev.confidence * 100)}% CI": f"[{_fmt(m.low)}, {_fmt(m.high)}]",
                "mean CV": _fmt(card.cv_metrics.get(name)),
            }
            for name, m in ev.metrics.items()
        ]
    )
    importance = card.explanation.importance.head(15).assign(
        mean_abs_shap=lambda f: f["mean_abs_shap"].map(_fmt), share=lambda f: f["share"].map(_fmt)
    )
    sources = pd.DataFrame(
        [
            {"source": s.name, "location": s.location, "version": s.version}
            for s in card.data_sources
        ]
        or [{"source": "n/a", "location": "", "version": ""}]
    )
    history = pd.DataFrame(
        card.approval_history
        or [{"request": "none yet", "gate": "", "status": "", "requested_by": "", "decisions": ""}]
    )
    slices: pd.DataFrame | str
    if ev.slices is not None and not ev.slices.empty:
        slices = ev.slices.map(_fmt) if hasattr(ev.slices, "map") else ev.slices
    else:
        slices = "No sensitive attribute declared (spec `governance.sensitive_attribute`)."
    return [
        (
            "Model",
            [
                ("experiment", card.experiment),
                ("model", f"{card.model_name} version {card.model_version}"),
                ("artifact digest (sha256)", card.model_digest),
                ("owner / team", f"{card.owner} / {card.team}"),
                ("problem type / target", f"{card.problem_type} / {card.target}"),
                ("risk tier", (card.risk.tier if card.risk else None) or "untiered"),
                ("generated", card.generated_at),
            ],
        ),
        ("Intended use", card.intended_use or "Not stated (spec `governance.intended_use`)."),
        (
            "Objective (questionnaire)",
            card.objective or "No questionnaire answered (`aurora experiments create --answers`).",
        ),
        (
            "Data dictionary",
            pd.DataFrame(card.data_dictionary)
            if card.data_dictionary
            else "Not generated (`aurora experiments dictionary NAME`).",
        ),
        (
            "Data sources",
            sources.assign(
                quality_score=_fmt(card.quality_score) if card.quality_score is not None else "n/a"
            ),
        ),
        ("Training method and search", f"{card.algorithm}: {card.training_method}".strip(": ")),
        ("Metrics (holdout, bootstrap confidence intervals)", metrics),
        *card.report_tables.items(),
        ("Global feature importance (SHAP)", importance),
        ("Top interactions (approximate)", pd.DataFrame(card.explanation.interactions)),
        (
            f"Metrics by slice: {ev.sensitive_attribute or 'n/a'} (disparity ratio "
            f"{_fmt(ev.disparity_ratio)}, metric ratio {_fmt(ev.metric_ratio)})",
            slices,
        ),
        ("Limitations", "\n".join(f"- {line}" for line in card.limitations)),
        ("Risk tier and approval chain", _risk_section(card.risk)),
        ("Approval history", history),
    ]


def _risk_section(risk: RiskTier | None) -> list[tuple[str, Any]]:
    if risk is None or risk.tier is None:
        return [("tier", "untiered: the policy defines no risk tiers; the policy's gates apply")]
    answers = risk.answers or {}
    rows: list[tuple[str, Any]] = [("tier", risk.tier), ("why", risk.reason)]
    rows += [(f"answer: {k}", _answer(v)) for k, v in answers.items()]
    rows += [(f"gate: {gate}", who) for gate, who in risk.chain]
    rows.append(("requirements", "; ".join(risk.requirements) or "none"))
    return rows


def _answer(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value).lower() if isinstance(value, bool) else str(value)


def render_markdown(card: ModelCard, plot_name: str | None = None) -> str:
    lines = [f"# Model card: {card.model_name} v{card.model_version}", ""]
    if card.description:
        lines += [card.description, ""]
    for title, body in _sections(card):
        lines += [f"## {title}", ""]
        if isinstance(body, pd.DataFrame):
            lines.append(body.to_markdown(index=False) if not body.empty else "none")
        elif isinstance(body, list):
            lines += [f"- **{k}**: {v}" for k, v in body]
        else:
            lines.append(body)
        if title.startswith("Global feature importance") and plot_name:
            lines += ["", f"![SHAP global importance]({plot_name})"]
        lines.append("")
    return "\n".join(lines)


def render_html(card: ModelCard, plot_png: bytes) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Model card: {e(card.model_name)} v{e(card.model_version)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;"
        "color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:4px 8px;text-align:left}th{background:#f3f5f8}h2{border-bottom:1px solid #ddd;"
        "padding-bottom:.2em}code{font-size:.9em}</style></head><body>",
        f"<h1>Model card: {e(card.model_name)} v{e(card.model_version)}</h1>",
    ]
    if card.description:
        parts.append(f"<p>{e(card.description)}</p>")
    for title, body in _sections(card):
        parts.append(f"<h2>{e(title)}</h2>")
        if isinstance(body, pd.DataFrame):
            # escape=True: cell text (comments, names) never becomes markup.
            parts.append(
                body.to_html(index=False, escape=True, border=0)
                if not body.empty
                else "<p>none</p>"
            )
        elif isinstance(body, list):
            parts.append(
                "<ul>" + "".join(f"<li><b>{e(k)}</b>: {e(str(v))}</li>" for k, v in body) + "</ul>"
            )
        elif body.startswith("- "):
            items = [line[2:] for line in body.splitlines()]
            parts.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>")
        else:
            parts.append(f"<p>{e(body)}</p>")
        if title.startswith("Global feature importance"):
            encoded = base64.b64encode(plot_png).decode("ascii")
            parts.append(
                f"<img alt='SHAP global importance' src='data:image/png;base64,{encoded}'>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_model_card(card: ModelCard, out_dir: Path, background: pd.DataFrame) -> ModelCardFiles:
    """Write model_card.html (plot embedded), model_card.md (+ PNG) and the SHAP background
    sample that serving's `explain_record` needs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = importance_plot(card)
    plot = out_dir / "shap_importance.png"
    plot.write_bytes(png)
    markdown = out_dir / "model_card.md"
    markdown.write_text(render_markdown(card, plot.name), encoding="utf-8")
    page = out_dir / "model_card.html"
    page.write_text(render_html(card, png), encoding="utf-8")
    facts = out_dir / FACTS_FILE
    facts.write_text(json.dumps(card.facts(), indent=2, default=str), encoding="utf-8")
    bg_path = out_dir / BACKGROUND_FILE
    background.to_parquet(bg_path, index=False)
    return ModelCardFiles(html=page, markdown=markdown, plot=plot, background=bg_path, facts=facts)


def approval_history(requests: list[Any]) -> list[dict[str, Any]]:
    """Approval requests (ApprovalRequest snapshots) as card rows, oldest first."""
    rows = []
    for r in requests:
        decisions = "; ".join(
            f"{d.decision} by {d.actor} ({d.role}) {d.decided_at:%Y-%m-%d}"
            + (f": {d.comment}" if d.comment else "")
            for d in r.decisions
        )
        rows.append(
            {
                "request": f"#{r.id}",
                "gate": r.gate,
                "version": r.model_version,
                "status": r.status,
                "requested_by": r.requested_by,
                "decisions": decisions or (r.comment or ""),
            }
        )
    return rows
