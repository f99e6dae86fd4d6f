"""Monitoring on Spark: a daily drift window and performance window against the champion's
training reference (`run_drift_window`, `run_performance_window`), the retraining signals the
drift sensor reads from their Delta series (`latest_signals`), the retrain policy, and the
champion comparison of a retrained candidate (`evaluate_candidate`).

Spark, Evidently and scikit-learn are imported when these functions run, not here.
"""

from aurora_pipelines.monitoring.candidate_evaluation import CandidateEvaluation, evaluate_candidate
from aurora_pipelines.monitoring.psi import population_stability_index, psi_table
from aurora_pipelines.monitoring.signals import latest_signals
from aurora_pipelines.monitoring.stage import (
    DriftWindowResult,
    MonitoringPaths,
    PerformanceWindowResult,
    run_drift_window,
    run_performance_window,
)

__all__ = [
    "CandidateEvaluation",
    "DriftWindowResult",
    "MonitoringPaths",
    "PerformanceWindowResult",
    "evaluate_candidate",
    "latest_signals",
    "population_stability_index",
    "psi_table",
    "run_drift_window",
    "run_performance_window",
]
