"""Model training: the algorithm registry, cross-validation and best-model selection."""

from aurora_pipelines.training.algorithms import ALGORITHMS, AlgorithmSpec, register_algorithm
from aurora_pipelines.training.trainer import TrainingResult, train_experiment

__all__ = [
    "ALGORITHMS",
    "AlgorithmSpec",
    "TrainingResult",
    "register_algorithm",
    "train_experiment",
]
