"""Prometheus metrics of the scoring service, in a registry of their own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Single-record scoring takes about a millisecond: resolve that range finely.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class ServiceMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aurora_requests",
            "HTTP requests by experiment, endpoint and status code.",
            ["experiment", "endpoint", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aurora_request_latency_seconds",
            "Time from request body to response, by experiment and endpoint.",
            ["experiment", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "aurora_predictions",
            "Records scored, by experiment, role, model version and whether served.",
            ["experiment", "role", "version", "served"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "aurora_fallbacks",
            "Requests a version other than the routed one answered, by reason.",
            ["experiment", "failed_role", "reason"],
            registry=self.registry,
        )
        self.shadow_dropped = Counter(
            "aurora_shadow_dropped",
            "Requests the shadow version did not score because its backlog was full.",
            ["experiment"],
            registry=self.registry,
        )
        self.log_rows = Gauge(
            "aurora_prediction_log_rows_written",
            "Prediction-log rows committed to Delta by this process.",
            registry=self.registry,
        )
        self.log_failures = Gauge(
            "aurora_prediction_log_failed_batches",
            "Prediction-log batches that could not be written.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
