"""Retry policies: steps that touch external systems (source reads, S3, MLflow) retry with
exponential backoff; gates (approvals, deployments, UAT, the champion comparison) never do.

A retried deployment could act twice on one decision, and a gate that is refused must stay
refused: those steps are not in `RETRIED_STAGES` and get no policy. User-caused errors are not
retried either (`step_logs.observed` turns them into non-retryable failures).
"""

import dagster as dg

from aurora_pipelines import lifecycle

# 3 retries after 2 s, 4 s, 8 s (+-50% jitter so that runs failing together do not retry in step).
EXTERNAL_RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

RETRIED_STAGES: dict[lifecycle.Stage, str] = {
    lifecycle.RAW: "reads the governed source (catalog, files, JDBC)",
    lifecycle.RAW_BATCH: "reads the scoring source",
    lifecycle.MODEL: "logs runs and registers the version in MLflow",
    lifecycle.MODEL_CARD: "loads the version and writes its card to MLflow",
    lifecycle.BATCH_SCORES: "loads the champion from MLflow",
}


def retry_policy_for(stage: lifecycle.Stage) -> dg.RetryPolicy | None:
    """The policy of a stage's step: EXTERNAL_RETRY for steps on external systems, else None."""
    return EXTERNAL_RETRY if stage in RETRIED_STAGES else None
