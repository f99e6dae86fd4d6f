"""Monitoring: feature drift (Evidently tests + PSI) between a reference and a current batch."""

from aurora_pipelines.monitoring.drift import DriftResult, FeatureDrift, compute_drift
from aurora_pipelines.monitoring.psi import population_stability_index, psi_table

__all__ = [
    "DriftResult",
    "FeatureDrift",
    "compute_drift",
    "population_stability_index",
    "psi_table",
]
