"""The leaderboard: every candidate's base (defaults) and tuned CV result, side by side.

Rows hold, per algorithm, the mean and spread over the CV folds of every metric for the
tuned configuration (the plain keys, e.g. `roc_auc`, `roc_auc_std`; the defaults again when
no trial beat them by more than the CV noise, `tuned_kept` false) and for the base one
(`base_roc_auc`, ...: trial 0, the library's defaults), the mean fit time per fold of each,
the trial count and the parameters. Two plain baselines are in every leaderboard (and are
candidates like the others, so the chosen model is never below them on CV): scikit-learn's
`HistGradientBoosting*()` with its defaults and a plain linear model.

The soft-voting ensemble of the top k averages their out-of-fold predictions (same folds,
so no model is refitted to score it); it is chosen only when its mean CV score beats the
best single model by more than the CV noise: the standard error of the paired per-fold
differences (both are scored on the same folds, so the fold-to-fold spread they share
cancels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from aurora_pipelines.training.hpo import SearchOutcome, TrialRecord

# Always trained beside the requested algorithms, untuned (see module docstring).
BASELINES = {
    "classification": ("hist_gradient_boosting", "logistic_regression"),
    "regression": ("hist_gradient_boosting", "linear_regression"),
}
ENSEMBLE = "soft_voting_ensemble"


def _base_trial(outcome: SearchOutcome) -> TrialRecord | None:
    return next((t for t in outcome.trials if t.number == 0 and t.state == "COMPLETE"), None)


def _best_trial(outcome: SearchOutcome) -> TrialRecord | None:
    complete = [t for t in outcome.trials if t.state == "COMPLETE" and t.folds == outcome.scores]
    return complete[0] if complete else None


def _fit_seconds(trial: TrialRecord | None, folds: int) -> float | None:
    if trial is None or trial.duration_seconds is None or folds == 0:
        return None
    return round(trial.duration_seconds / folds, 4)


def _summary(scores: dict[str, list[float]], prefix: str = "") -> dict[str, float]:
    row: dict[str, float] = {}
    for name, values in scores.items():
        row[f"{prefix}{name}"] = float(np.mean(values))
        row[f"{prefix}{name}_std"] = float(np.std(values))
    return row


def build_rows(
    outcomes: dict[str, SearchOutcome],
    roles: dict[str, str],
    families: dict[str, str],
    *,
    primary: str,
    greater_is_better: bool,
    folds: int,
) -> list[dict[str, Any]]:
    """One row per candidate, best first by the tuned primary metric (ties: caller order)."""
    rows = []
    for algorithm, outcome in outcomes.items():
        base = _base_trial(outcome)
        row: dict[str, Any] = {"algorithm": algorithm, "role": roles[algorithm]}
        row.update(_summary(outcome.scores))
        row.update(_summary(base.folds if base and base.folds else outcome.scores, "base_"))
        row["fit_seconds"] = _fit_seconds(_best_trial(outcome) or base, folds)
        row["base_fit_seconds"] = _fit_seconds(base, folds)
        row["family"] = families[algorithm]
        row["trials"] = len(outcome.trials)
        row["params"] = outcome.params
        row["base_params"] = dict(base.params) if base else {}
        # False: no trial beat the defaults by more than the CV noise, so they are kept.
        row["tuned_kept"] = bool(base) and outcome.params != base.params
        rows.append(row)
    sign = -1.0 if greater_is_better else 1.0
    rows.sort(key=lambda r: sign * r[primary])
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


@dataclass
class EnsembleVerdict:
    """The top-k soft vote, scored from out-of-fold predictions, and whether it is chosen."""

    members: list[str]
    scores: dict[str, list[float]]
    oof: np.ndarray
    gain: float  # mean primary-metric improvement over the best single model (+ = better)
    noise: float
    chosen: bool

    def row(self, primary: str, fit_seconds: float | None) -> dict[str, Any]:
        return {
            "algorithm": ENSEMBLE,
            "role": "ensemble",
            **_summary(self.scores),
            "fit_seconds": fit_seconds,
            "family": "sklearn",
            "members": self.members,
            "gain": round(self.gain, 6),
            "noise": round(self.noise, 6),
            "chosen": self.chosen,
            "params": {"members": self.members},
        }


def soft_vote(
    rows: list[dict[str, Any]],
    outcomes: dict[str, SearchOutcome],
    splits: list[tuple[np.ndarray, np.ndarray]],
    score_fold: Any,
    *,
    primary: str,
    greater_is_better: bool,
    top_k: int,
) -> EnsembleVerdict | None:
    """Average the top-k rows' OOF predictions; None when fewer than two candidates.

    `score_fold(test_idx, predictions) -> {metric: value}` scores one fold.
    """
    members = [r["algorithm"] for r in rows[:top_k]]
    if top_k < 2 or len(members) < 2:
        return None
    oof = np.mean([outcomes[name].oof for name in members], axis=0)
    scores: dict[str, list[float]] = {}
    for _, test_idx in splits:
        for name, value in score_fold(test_idx, oof[test_idx]).items():
            scores.setdefault(name, []).append(value)
    sign = 1.0 if greater_is_better else -1.0
    best = np.asarray(outcomes[members[0]].scores[primary], dtype=float)
    ensemble = np.asarray(scores[primary], dtype=float)
    diff = sign * (ensemble - best)
    n = len(diff)
    noise = float(np.std(diff, ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    gain = float(np.mean(diff))
    return EnsembleVerdict(members, scores, oof, gain, noise, chosen=gain > noise)


def leaderboard_markdown(rows: list[dict[str, Any]], primary: str) -> str:
    """The board as a Markdown table: base vs tuned primary metric, spread, fit time."""
    lines = [
        f"| rank | algorithm | role | base {primary} | tuned {primary} | CV std "
        "| base fit s/fold | tuned fit s/fold | trials |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def num(value: Any, digits: int = 4) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    for row in rows:
        base = row.get(f"base_{primary}")
        algorithm = row["algorithm"]
        if row["role"] == "ensemble":
            verdict = "chosen" if row.get("chosen") else "not chosen"
            algorithm += f" ({', '.join(row['members'])}; {verdict}: gain {row['gain']:+.4f}"
            algorithm += f" vs noise {row['noise']:.4f})"
        lines.append(
            f"| {row['rank']} | {algorithm} | {row['role']} | {num(base)} | "
            f"{num(row[primary])} | {num(row.get(f'{primary}_std'))} | "
            f"{num(row.get('base_fit_seconds'), 3)} | {num(row.get('fit_seconds'), 3)} | "
            f"{row.get('trials', '')} |"
        )
    return "\n".join(lines)
