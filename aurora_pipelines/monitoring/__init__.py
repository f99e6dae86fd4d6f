"""Monitoring on Spark: a daily drift window and performance window against the champion's
training reference (`run_drift_window`, `run_performance_window`), the retraining signals the
drift sensor reads from their Delta series (`latest_signals`), the retrain policy, and the
champion comparison of a retrained candidate (`evaluate_candidate`).

The names below are imported on first use (PEP 562): the Dagster side imports
`monitoring.stage` for its check names while the code location loads, and must not pay for
pandas and numpy there.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CandidateEvaluation": "candidate_evaluation",
    "evaluate_candidate": "candidate_evaluation",
    "population_stability_index": "psi",
    "psi_table": "psi",
    "latest_signals": "signals",
    "DriftWindowResult": "stage",
    "MonitoringPaths": "stage",
    "PerformanceWindowResult": "stage",
    "run_drift_window": "stage",
    "run_performance_window": "stage",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
