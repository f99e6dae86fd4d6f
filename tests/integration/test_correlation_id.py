"""One correlation id, followed through everything one run touches: the Dagster run's tags, the
MLflow runs and model version it registered, the audit rows, the JSON log lines, the alert its
failing step raised (POSTed to a real HTTP receiver) and the prediction-log rows of a request
made under the same id to the scoring service serving the model it trained."""

import json
import time

import dagster as dg
import httpx
import pytest
from mlflow import MlflowClient

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.assets.training import build_training_assets
from aurora_pipelines.defs.sensors.run_failure import build_run_failure_sensor
from aurora_pipelines.errors import SourceError
from aurora_pipelines.governance.store import GovernanceStore
from aurora_pipelines.lake import delta
from aurora_pipelines.serving.prediction_log import prediction_log_path
from aurora_pipelines.serving.scoring import ServiceConfig
from aurora_pipelines.serving.service import create_app
from aurora_pipelines.sources.sample_data import TARGET, generate_credit_data
from aurora_pipelines.specs import write_spec
from aurora_pipelines.structured_logs import log_path
from tests.asgi_server import ServedApp
from tests.factories import asset_metadata, make_spec, materialize
from tests.http_receiver import Receiver

CORRELATION_ID = "corr-one-4b1d"
TAGS = {"aurora/correlation_id": CORRELATION_ID, "aurora/actor": "ds_alice"}


@pytest.fixture
def receiver(monkeypatch):
    with Receiver() as running:
        monkeypatch.setenv("AURORA_ALERT_WEBHOOK_URL", running.url)
        yield running


def _spec():
    return make_spec(
        "corr_exp",
        time_column="application_date",
        training={
            "algorithms": ["logistic_regression"],
            "primary_metric": "roc_auc",
            "metric_min": 0.1,
            "cv_folds": 3,
            "max_train_rows": 500,
            "hpo": {"n_trials": 1},
        },
        governance={
            "risk": {
                "materiality": "low",
                "decision_automation": "advisory",
                "personal_data": False,
                "regulatory_use": [],
            }
        },
    )


def _prediction_rows(path, request_id: str, expected: int) -> int:
    """Rows of the prediction log under `request_id`, once the writer has flushed them."""
    deadline = time.monotonic() + 20
    found = 0
    while found < expected and time.monotonic() < deadline:
        try:
            log = delta.read_pandas(path)
            found = int((log.request_id == request_id).sum())
        except SourceError:  # the writer has not made its first commit yet
            pass
        time.sleep(0.1)
    return found


def test_one_correlation_id_runs_through_run_tags_mlflow_audit_logs_alert_and_prediction_log(
    home, receiver
):
    spec = _spec()
    write_spec(home.experiments_dir, spec)
    data = generate_credit_data(700, seed=8)
    delta.write_table(home.lake_dir.joinpath(spec.name, *lifecycle.FEATURES), data)

    # The run trains and registers a model, then a later step fails (an external source gone).
    @stage_asset(spec, lifecycle.DRIFT, deps=[lifecycle.MODEL])
    def drift() -> dg.MaterializeResult:
        raise SourceError("reference table gone; fix `monitoring.reference`")

    instance = dg.DagsterInstance.ephemeral()
    result = materialize(home, [*build_training_assets(spec), drift], tags=TAGS, instance=instance)
    assert not result.success
    assert instance.get_run_by_id(result.run_id).tags["aurora/correlation_id"] == CORRELATION_ID

    # MLflow: the training run and the model version it registered.
    version = asset_metadata(result, spec.key(*lifecycle.MODEL))["model_version"]
    client = MlflowClient(home.tracking_uri, home.tracking_uri)
    registered = client.get_model_version(spec.name, version)
    assert registered.tags["aurora.correlation_id"] == CORRELATION_ID
    assert client.get_run(registered.run_id).data.tags["aurora.correlation_id"] == CORRELATION_ID

    # Audit rows.
    store = GovernanceStore.from_settings(home)
    audited = store.read_audit(correlation_id=CORRELATION_ID)
    assert "candidate_recorded" in {row["event"] for row in audited}

    # The run-failure alert: the webhook body and its log line carry the id and the step.
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    build_run_failure_sensor()(context)
    (body,) = receiver.bodies
    assert body["correlation_id"] == CORRELATION_ID and body["run_id"] == result.run_id
    assert [s["step"] for s in body["details"]["failed_steps"]] == ["corr_exp__monitor__drift"]

    # The scoring service, serving that version as champion, answers a request made under the
    # same id; its prediction-log rows carry it as their request id.
    client.set_registered_model_alias(spec.name, "champion", version)
    # A record is a row of the feature table, without its label.
    records = json.loads(data.drop(columns=[TARGET]).head(3).to_json(orient="records"))
    config = ServiceConfig.from_settings(home, [spec.name], poll_interval=0.1, log_flush_ms=100)
    with ServedApp(create_app(config)) as served:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            answer = http.post(
                f"/v1/models/{spec.name}/predict",
                json={"records": records},
                headers={"X-Correlation-ID": CORRELATION_ID},
            )
        assert answer.status_code == 200, answer.text
        assert answer.json()["request_id"] == CORRELATION_ID
        path = prediction_log_path(home.lake_dir, spec.name)
        assert _prediction_rows(path, CORRELATION_ID, len(records)) == len(records)

    # The JSON log: the run's steps, its alert and the service's request, under the one id.
    lines = [json.loads(line) for line in log_path(home.root).read_text().splitlines()]
    mine = [line for line in lines if line.get("correlation_id") == CORRELATION_ID]
    events = {line.get("event") for line in mine}
    assert {"step_finished", "step_failed", "run_failed"} <= events
    assert {line["run_id"] for line in mine if line.get("event") == "step_finished"} == {
        result.run_id
    }
    store.dispose()
