"""When to request a retraining run: a plain decision the drift sensor (and the demo) applies.

Signals are the latest drift and performance windows. In order:
1. no signal crossed its threshold (drift share > `drift_share_max`, or the primary metric
   dropped more than `performance_tolerance`) -> skip;
2. de-duplication, at most one open retraining per experiment: a retraining run still open,
   or a retrained candidate still waiting for its approvals -> skip;
3. cooldown: the last retraining request is less than `retrain_cooldown_hours` old -> skip;
4. minimum new data: the crossing window(s) hold fewer than `min_new_rows` rows -> skip
   (a few hundred rows are too little evidence, and too little to learn from);
5. otherwise -> request, naming every crossed signal.
Every decision carries its reason; the caller audits it (`retrain_requested` /
`retrain_skipped`). A retrained model is only a candidate: it never replaces the champion
without the same staging and production approvals.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from aurora_pipelines.specs import MonitoringSpec

REQUESTED = "retrain_requested"
SKIPPED = "retrain_skipped"


class Signal(BaseModel):
    """One monitoring result: which window, its value and whether it crossed its threshold."""

    kind: Literal["drift", "performance"]
    window: str
    value: float
    threshold: float
    crossed: bool
    rows: int
    detail: str = ""
    series_version: int | None = None  # the Delta commit of the series that holds the window
    run_id: str | None = None  # the run that wrote it


class RetrainState(BaseModel):
    """What is already in flight for the experiment."""

    open_run_id: str | None = None
    pending_candidate: str | None = None  # a retrained version awaiting approval
    last_request_at: float | None = None  # epoch seconds


class Decision(BaseModel):
    request: bool
    event: str  # REQUESTED or SKIPPED
    reason: str
    details: dict[str, Any]


def drift_signal(window: str, drift_share: float, rows: int, spec: MonitoringSpec) -> Signal:
    return Signal(
        kind="drift",
        window=window,
        value=drift_share,
        threshold=spec.drift_share_max,
        crossed=drift_share > spec.drift_share_max,
        rows=rows,
        detail=f"drift share {drift_share:.3f} > {spec.drift_share_max}",
    )


def performance_signal(
    window: str, metric: str, drop: float | None, rows: int, spec: MonitoringSpec
) -> Signal:
    value = 0.0 if drop is None else drop
    return Signal(
        kind="performance",
        window=window,
        value=value,
        threshold=spec.performance_tolerance,
        crossed=drop is not None and drop > spec.performance_tolerance,
        rows=rows,
        detail=f"{metric} dropped {value:.3f} > tolerance {spec.performance_tolerance}",
    )


def decide(
    signals: list[Signal], state: RetrainState, spec: MonitoringSpec, *, now: float
) -> Decision:
    """Request a retraining run or skip it, with the reason (see the module docstring)."""
    details: dict[str, Any] = {"signals": [s.model_dump() for s in signals]}

    def skip(reason: str) -> Decision:
        return Decision(request=False, event=SKIPPED, reason=reason, details=details)

    crossed = [s for s in signals if s.crossed]
    if not crossed:
        return skip(
            "within thresholds: "
            + (
                "; ".join(f"{s.kind} {s.value:.3f} <= {s.threshold}" for s in signals)
                or "no signal"
            )
        )
    if state.open_run_id:
        return skip(f"retraining run {state.open_run_id} is still open")
    if state.pending_candidate:
        return skip(
            f"retrained candidate v{state.pending_candidate} still awaits its approvals; "
            "decide it before retraining again"
        )
    cooldown_s = spec.retrain_cooldown_hours * 3600
    if state.last_request_at is not None and now - state.last_request_at < cooldown_s:
        left = (cooldown_s - (now - state.last_request_at)) / 3600
        return skip(
            f"cooldown: last retraining requested {(now - state.last_request_at) / 3600:.1f} h "
            f"ago (cooldown {spec.retrain_cooldown_hours} h, {left:.1f} h left)"
        )
    rows = max(s.rows for s in crossed)
    if rows < spec.min_new_rows:
        return skip(f"not enough new data: {rows} rows in the window (< {spec.min_new_rows})")
    details["new_rows"] = rows
    return Decision(
        request=True,
        event=REQUESTED,
        reason="; ".join(f"{s.detail} (window {s.window})" for s in crossed),
        details=details,
    )
