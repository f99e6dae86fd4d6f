"""The canary controller: evaluate the challenger against the champion on the prediction log,
then step its traffic share up, promote it, or roll it back.

Each evaluation looks at the challenger's answers since its current step began (the
`aurora.canary_step_started_at` tag) and the champion's answers over the same period, widened
to the spec's `window_minutes`. It compares error rate, p99 latency (per request), the PSI of
the score distributions (monitoring/psi.py) and, where a labels table exists, accuracy. A step
is judged only once the challenger answered `min_requests` times; a breach rolls back, a clean
step moves to the next share, and clearing the last step (1.0) promotes the challenger.
Plain Python: the Dagster sensor (sensors/canary.py) only calls `canary_tick`.

This is the canary evaluation (live traffic, per step); not the champion comparison of a
retrained candidate (`monitoring/candidate_evaluation.py`) nor the A/B comparison of a day's
batch (`serving/ab_comparison.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from aurora_pipelines.deploy import routing

if TYPE_CHECKING:
    from aurora_pipelines.deploy.records import DeploymentRecord
    from aurora_pipelines.deploy.release import ReleaseContext
    from aurora_pipelines.specs import CanarySpec

CONTROLLER = "canary_controller"  # the actor of the controller's audit rows
LABELS_STAGE = ("monitor", "labels")  # optional Delta table: entity_id, label
Decision = Literal["wait", "advance", "promote", "rollback"]


@dataclass(frozen=True)
class ArmStats:
    """One arm of the canary evaluation: answers, errors, latency, scores, (optional) accuracy."""

    role: str
    version: str | None
    answers: int
    requests: int
    errors: int
    error_rate: float
    p99_latency_ms: float | None
    mean_score: float | None
    labeled: int = 0
    accuracy: float | None = None


@dataclass(frozen=True)
class CanaryEvaluation:
    decision: Decision
    share: float
    next_share: float
    champion: ArmStats
    challenger: ArmStats
    score_psi: float | None
    reasons: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        return {
            "champion": asdict(self.champion),
            "challenger": asdict(self.challenger),
            "score_psi": self.score_psi,
            "share": self.share,
            "next_share": self.next_share,
        }

    @property
    def summary(self) -> str:
        return f"{self.decision}: " + "; ".join(self.reasons)


def _arm(
    rows: pd.DataFrame, role: str, version: str | None, labels: pd.DataFrame | None
) -> ArmStats:
    answers = len(rows)
    errors = int((rows["status"] != "ok").sum()) if answers else 0
    per_request = (
        rows.groupby("request_id")["latency_ms"].max() if answers else pd.Series(dtype="float64")
    )
    ok = rows[rows["status"] == "ok"]
    labeled, accuracy = 0, None
    if labels is not None and answers:
        joined = ok.merge(labels, on="entity_id", how="inner")
        labeled = len(joined)
        if labeled:
            accuracy = float((joined["prediction"] == joined["label"]).mean())
    return ArmStats(
        role=role,
        version=version,
        answers=answers,
        requests=int(rows["request_id"].nunique()) if answers else 0,
        errors=errors,
        error_rate=errors / answers if answers else 0.0,
        p99_latency_ms=float(np.percentile(per_request, 99)) if len(per_request) else None,
        mean_score=float(ok["score"].mean()) if len(ok) else None,
        labeled=labeled,
        accuracy=accuracy,
    )


def next_share(steps: list[float], share: float) -> float:
    """The first step above the current share (1.0 once past the last)."""
    return next((s for s in steps if s > share + 1e-9), 1.0)


def evaluate_canary(
    log: pd.DataFrame,
    *,
    champion: str,
    challenger: str,
    share: float,
    step_started: datetime,
    spec: CanarySpec,
    labels: pd.DataFrame | None = None,
    now: datetime | None = None,
) -> CanaryEvaluation:
    """Judge the challenger's current step against the champion (see module docstring)."""
    from aurora_pipelines.monitoring.psi import population_stability_index

    now = now or datetime.now(UTC)
    ts = pd.to_datetime(log["ts"], utc=True)
    served = log["served"].astype(bool)
    challenger_rows = log[
        served
        & (log["role"] == routing.CHALLENGER)
        & (log["model_version"] == str(challenger))
        & (ts >= step_started)
    ]
    baseline_from = min(step_started, now - timedelta(minutes=spec.window_minutes))
    champion_rows = log[
        served
        & (log["role"] == routing.CHAMPION)
        & (log["model_version"] == str(champion))
        & (ts >= baseline_from)
    ]
    champ = _arm(champion_rows, routing.CHAMPION, champion, labels)
    chall = _arm(challenger_rows, routing.CHALLENGER, challenger, labels)
    upcoming = next_share(spec.steps, share)

    def result(decision: Decision, reasons: list[str], psi: float | None = None):
        return CanaryEvaluation(decision, share, upcoming, champ, chall, psi, reasons)

    if chall.answers < spec.min_requests:
        return result(
            "wait",
            [f"challenger v{challenger} has {chall.answers} of {spec.min_requests} answers "
             f"needed at {share:.0%}"],
        )  # fmt: skip
    if champ.answers == 0:
        return result("wait", [f"no champion v{champion} answers to compare with"])
    champ_scores = champion_rows.loc[champion_rows["status"] == "ok", "score"].dropna()
    chall_scores = challenger_rows.loc[challenger_rows["status"] == "ok", "score"].dropna()
    psi = (
        population_stability_index(champ_scores, chall_scores, numeric=True)
        if len(champ_scores) and len(chall_scores)
        else None
    )
    breaches: list[str] = []
    passes: list[str] = []
    delta = chall.error_rate - champ.error_rate
    (breaches if delta > spec.max_error_rate_increase else passes).append(
        f"error rate {chall.error_rate:.2%} vs {champ.error_rate:.2%} "
        f"(max +{spec.max_error_rate_increase:.2%})"
    )
    if chall.p99_latency_ms is not None and champ.p99_latency_ms:
        ratio = chall.p99_latency_ms / champ.p99_latency_ms
        (breaches if ratio > spec.max_p99_latency_ratio else passes).append(
            f"p99 latency {chall.p99_latency_ms:.1f} ms vs {champ.p99_latency_ms:.1f} ms "
            f"(x{ratio:.2f}, max x{spec.max_p99_latency_ratio:g})"
        )
    if psi is not None:
        (breaches if psi > spec.max_score_psi else passes).append(
            f"score PSI {psi:.3f} (max {spec.max_score_psi:g})"
        )
    if (
        chall.accuracy is not None
        and champ.accuracy is not None
        and min(chall.labeled, champ.labeled) >= spec.min_labeled
    ):
        drop = champ.accuracy - chall.accuracy
        (breaches if drop > spec.max_accuracy_drop else passes).append(
            f"accuracy {chall.accuracy:.3f} vs {champ.accuracy:.3f} "
            f"(max drop {spec.max_accuracy_drop:g}, {chall.labeled} labeled)"
        )
    if breaches:
        return result("rollback", [f"breach: {b}" for b in breaches] + passes, psi)
    decision: Decision = "promote" if upcoming >= 1.0 else "advance"
    return result(decision, [f"{chall.answers} answers at {share:.0%}", *passes], psi)


def read_prediction_log(path: Path, since: datetime) -> pd.DataFrame:
    """Prediction-log rows of the days since `since` (a partition filter on `date`)."""
    from deltalake import DeltaTable

    from aurora_pipelines.lake import delta
    from aurora_pipelines.serving.prediction_log import COLUMNS, PARTITION_COLUMN

    if not delta.is_delta_table(path):
        return pd.DataFrame(columns=COLUMNS)
    days, day = [], since.astimezone(UTC).date()
    while day <= datetime.now(UTC).date():
        days.append(day.isoformat())
        day += timedelta(days=1)
    table = DeltaTable(str(path))
    if PARTITION_COLUMN in table.metadata().partition_columns:
        # A partition filter reads only those days (never to_pyarrow_*: see FACTS.md).
        return table.to_pandas(partitions=[(PARTITION_COLUMN, "in", days)])
    frame = table.to_pandas()
    return frame[frame[PARTITION_COLUMN].isin(days)]


def read_labels(path: Path) -> pd.DataFrame | None:
    """The optional labels table (entity_id, label) for accuracy; None when there is none."""
    from aurora_pipelines.lake import delta

    if not delta.is_delta_table(path):
        return None
    labels = delta.read_pandas(path, columns=["entity_id", "label"])
    labels["entity_id"] = labels["entity_id"].astype(str)
    return labels.drop_duplicates("entity_id", keep="last")


def step_started_at(ctx: ReleaseContext) -> datetime | None:
    from aurora_pipelines.deploy.release import CANARY_STEP_STARTED_TAG

    client, model_name = ctx.client, ctx.model_name
    value = (client.get_registered_model(model_name).tags or {}).get(CANARY_STEP_STARTED_TAG)
    return datetime.fromisoformat(value) if value else None


def apply_evaluation(ctx: ReleaseContext, evaluation: CanaryEvaluation) -> DeploymentRecord | None:
    """Act on a decision: move to the next share, promote, or roll back (each recorded and
    audited with its reasons); a `wait` changes nothing."""
    from aurora_pipelines.deploy import release

    reason = evaluation.summary
    metrics = evaluation.metrics()
    if evaluation.decision == "advance":
        return release.set_canary_share(ctx, evaluation.next_share, reason, metrics)
    if evaluation.decision == "promote":
        return release.promote(
            ctx,
            evaluation.challenger.version,
            strategy="canary",
            action="canary_promote",
            reason=reason,
        )
    if evaluation.decision == "rollback":
        return release.abort_canary(ctx, reason, metrics)
    return None


def evaluate_tick(
    ctx: ReleaseContext,
    *,
    prediction_log: Path,
    labels: Path | None,
    spec: CanarySpec,
    now: datetime | None = None,
) -> CanaryEvaluation | None:
    """What the controller would decide now, changing nothing; None when no canary runs."""
    state = ctx.routing()
    if not (state.challenger and state.champion and state.strategy == "canary"):
        return None
    started = step_started_at(ctx) or datetime.now(UTC)
    now = now or datetime.now(UTC)
    log = read_prediction_log(
        prediction_log, min(started, now - timedelta(minutes=spec.window_minutes))
    )
    return evaluate_canary(
        log,
        champion=state.champion,
        challenger=state.challenger,
        share=state.challenger_share,
        step_started=started,
        spec=spec,
        labels=read_labels(labels) if labels is not None else None,
        now=now,
    )


def canary_tick(
    ctx: ReleaseContext,
    *,
    prediction_log: Path,
    labels: Path | None,
    spec: CanarySpec,
    now: datetime | None = None,
) -> tuple[CanaryEvaluation | None, DeploymentRecord | None]:
    """One controller pass for one model: (evaluation, record of what changed), or (None, None)
    when no canary runs. Evaluated afresh, so a decision is never applied on stale data."""
    evaluation = evaluate_tick(
        ctx, prediction_log=prediction_log, labels=labels, spec=spec, now=now
    )
    if evaluation is None:
        return None, None
    return evaluation, apply_evaluation(ctx, evaluation)
