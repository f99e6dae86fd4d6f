"""The scoring service on real uvicorn (127.0.0.1), a real MLflow SQLite registry and Delta log.

One small classifier is trained once and registered as three versions; v3's artifacts are
then tampered with, so loading it fails its digest check (a champion that cannot load).
Tests move the MLflow aliases the way `aurora deploy` does and wait for /health to show
the routing state the service picked up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from aurora_pipelines.deploy.routing import CHALLENGER_SHARE_TAG, ROLES
from aurora_pipelines.errors import SourceError
from aurora_pipelines.lake.delta import read_pandas
from aurora_pipelines.registry.mlflow_registry import load_model
from aurora_pipelines.serving.prediction_log import COLUMNS, prediction_log_path
from aurora_pipelines.serving.router import in_challenger_bucket
from aurora_pipelines.serving.scoring import FALLBACK_EVENT, ServiceConfig
from aurora_pipelines.serving.service import REQUEST_ID_HEADER, create_app
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.sample_data import (
    ID_COLUMN,
    generate_credit_data,
)
from tests.factories import register_model, train_model

MODEL = "credit"
MAX_RECORDS = 50
MAX_BODY = 200_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Registry:
    home: Path
    tracking_uri: str
    settings: Settings
    data: Any  # the credit frame the records come from
    fields: list[str]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    home = tmp_path_factory.mktemp("serve_home")
    tracking_uri = f"sqlite:///{home / 'mlflow.db'}"
    data = generate_credit_data(1200, seed=3)
    result = train_model(data, seed=11)
    features = home / "lake" / "features" / MODEL
    for _ in range(3):
        registered = register_model(tracking_uri, MODEL, result, data, features, features_version=1)
    # v3: change one byte of the stored model, so its digest check refuses to load it.
    uri = MlflowClient(tracking_uri, tracking_uri).get_model_version_download_uri(
        MODEL, registered.version
    )
    model_file = next(p for p in Path(uri.removeprefix("file://")).rglob("model.skops"))
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    settings = Settings(home=home, mlflow_tracking_uri=tracking_uri)
    return Registry(home, tracking_uri, settings, data, list(result.feature_columns))


def set_routing(registry: Registry, share: float = 0.0, **roles: str | None) -> None:
    """Point each role alias at a version (None/absent = unset), like `aurora deploy` does."""
    client = MlflowClient(registry.tracking_uri, registry.tracking_uri)
    for role in ROLES:
        version = roles.get(role)
        if version:
            client.set_registered_model_alias(MODEL, role, version)
        else:
            with contextlib.suppress(MlflowException):  # the alias was not set
                client.delete_registered_model_alias(MODEL, role)
    client.set_registered_model_tag(MODEL, CHALLENGER_SHARE_TAG, str(share))


class Server:
    """create_app(config) on uvicorn in a thread of this process; stop() = clean shutdown."""

    def __init__(self, config: ServiceConfig) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = config
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(config), host="127.0.0.1", port=self.port, log_level="warning"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn exited"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def make_config(registry: Registry, **overrides: Any) -> ServiceConfig:
    config = ServiceConfig.from_settings(
        registry.settings,
        [MODEL],
        poll_interval=0.1,
        max_records=MAX_RECORDS,
        max_body_bytes=MAX_BODY,
        log_flush_ms=100,
        **overrides,
    )
    config.experiments = {MODEL: ID_COLUMN}
    return config


@pytest.fixture(scope="module")
def server(registry: Registry) -> Iterator[Server]:
    set_routing(registry, champion="1")
    running = Server(make_config(registry)).start()
    yield running
    running.stop()


def records(registry: Registry, n: int, start: int = 0) -> list[dict[str, Any]]:
    """n JSON-ready records: the model's fields plus the entity id."""
    frame = registry.data.iloc[start : start + n][[*registry.fields, ID_COLUMN]]
    rows = json.loads(frame.to_json(orient="records"))
    return rows


def wait_for_routing(client: httpx.Client, **expected: Any) -> float:
    """Seconds until /health shows `expected` for the model (fails after 20 s)."""
    started = time.monotonic()
    while time.monotonic() - started < 20:
        state = client.get("/health").json()["experiments"][MODEL]
        if all(state.get(k) == v for k, v in expected.items()):
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"routing never became {expected}: {state}")


def predict(client: httpx.Client, rows: list[dict[str, Any]]) -> httpx.Response:
    return client.post(f"/v1/models/{MODEL}/predict", json={"records": rows})


# --- predictions ---------------------------------------------------------------------------


def test_single_and_batch_predictions_match_the_model(server: Server, registry: Registry):
    with server.client() as client:
        wait_for_routing(client, champion="1", challenger=None, shadow=None)
        one = predict(client, records(registry, 1))
        assert one.status_code == 200, one.text
        body = one.json()
        assert body["model_version"] == "1"
        assert one.headers[REQUEST_ID_HEADER] == body["request_id"]
        assert len(body["predictions"]) == 1

        batch = predict(client, records(registry, 25, start=100)).json()
    model = load_model(registry.tracking_uri, MODEL, "1")
    frame = registry.data.iloc[100:125][registry.fields]
    expected = model.predict_proba(frame)[:, 1]
    got = np.array([p["probability"] for p in batch["predictions"]])
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    threshold = float(
        MlflowClient(registry.tracking_uri, registry.tracking_uri)
        .get_model_version(MODEL, "1")
        .tags["decision_threshold"]
    )
    assert [p["label"] for p in batch["predictions"]] == [int(p >= threshold) for p in expected]


def test_client_request_id_is_echoed(server: Server, registry: Registry):
    with server.client() as client:
        response = client.post(
            f"/v1/models/{MODEL}/predict",
            json={"records": records(registry, 1)},
            headers={REQUEST_ID_HEADER: "req-abc"},
        )
    assert response.json()["request_id"] == "req-abc"
    assert response.headers[REQUEST_ID_HEADER] == "req-abc"


def test_a_callers_correlation_id_is_the_request_id_of_its_prediction_log_rows(
    server: Server, registry: Registry
):
    path = prediction_log_path(registry.settings.lake_dir, MODEL)
    with server.client() as client:
        response = client.post(
            f"/v1/models/{MODEL}/predict",
            json={"records": records(registry, 2, start=70)},
            headers={"X-Correlation-ID": "corr-serve-1"},
        )
    assert response.json()["request_id"] == "corr-serve-1"
    deadline = time.monotonic() + 20
    while True:
        try:
            log = read_pandas(path)
        except SourceError:  # the writer has not made its first commit yet
            log = None
        mine = log[log.request_id == "corr-serve-1"] if log is not None else []
        if len(mine) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(mine) == 2


# --- validation ----------------------------------------------------------------------------


def test_missing_and_mistyped_fields_get_422_naming_the_field(server: Server, registry: Registry):
    row = records(registry, 1)[0]
    missing = {k: v for k, v in row.items() if k != "credit_score"}
    mistyped = {**row, "annual_income": "lots"}
    boolean_as_number = {**row, "age": True}
    with server.client() as client:
        for bad, field in [
            (missing, "credit_score"),
            (mistyped, "annual_income"),
            (boolean_as_number, "age"),
        ]:
            response = predict(client, [row, bad])
            assert response.status_code == 422, response.text
            assert response.json()["field"] == field
            assert field in response.json()["detail"]
            assert "records[1]" in response.json()["detail"]
        # null is a valid value: the pipeline imputes it.
        assert predict(client, [{**row, "credit_score": None}]).status_code == 200


def test_malformed_json_wrong_shape_and_oversized_payloads_are_4xx(
    server: Server, registry: Registry
):
    url = f"/v1/models/{MODEL}/predict"
    headers = {"content-type": "application/json"}
    with server.client() as client:
        malformed = client.post(url, content=b'{"records": [{"age": 4', headers=headers)
        assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["detail"]
        for shape in (b"[]", b'{"rows": []}', b'{"records": []}', b'{"records": [1]}'):
            response = client.post(url, content=shape, headers=headers)
            assert response.status_code == 422, shape
        too_many = predict(client, records(registry, MAX_RECORDS + 1))
        assert too_many.status_code == 413 and str(MAX_RECORDS) in too_many.json()["detail"]
        huge = {"records": records(registry, 1), "padding": "x" * (MAX_BODY + 1)}
        too_big = client.post(url, json=huge)
        assert too_big.status_code == 413 and "bytes" in too_big.json()["detail"]


def test_unknown_experiment_is_404_with_a_hint(server: Server, registry: Registry):
    with server.client() as client:
        response = client.post("/v1/models/nope/predict", json={"records": records(registry, 1)})
    assert response.status_code == 404
    assert "unknown experiment 'nope'" in response.json()["detail"]
    assert MODEL in response.json()["detail"] and "--experiment" in response.json()["detail"]


# --- explain, metrics, OpenAPI -------------------------------------------------------------


def test_explain_returns_contributions_per_feature(server: Server, registry: Registry):
    with server.client() as client:
        wait_for_routing(client, champion="1")
        response = client.post(
            f"/v1/models/{MODEL}/explain", json={"records": records(registry, 2, start=7)}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "1" and len(body["explanations"]) == 2
    for explanation in body["explanations"]:
        assert set(explanation["contributions"]) == set(registry.fields)
        assert any(v != 0 for v in explanation["contributions"].values())
        assert len(explanation["top_features"]) == 5


def test_metrics_count_requests_and_time_them(server: Server, registry: Registry):
    with server.client() as client:
        for _ in range(3):
            predict(client, records(registry, 1))
        text = client.get("/metrics").text
    counted = [
        line
        for line in text.splitlines()
        if line.startswith("aurora_requests_total{")
        and 'endpoint="predict"' in line
        and 'code="200"' in line
    ]
    assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 3
    assert "aurora_request_latency_seconds_bucket{" in text
    assert 'aurora_predictions_total{experiment="credit",role="champion"' in text


def test_openapi_schema_documents_the_endpoints(server: Server):
    with server.client() as client:
        schema = client.get("/openapi.json").json()
    assert {"/v1/models/{experiment}/predict", "/v1/models/{experiment}/explain"} <= set(
        schema["paths"]
    )
    body = schema["paths"]["/v1/models/{experiment}/predict"]["post"]["requestBody"]
    assert "records" in body["content"]["application/json"]["schema"]["properties"]
    assert {"/health", "/metrics"} <= set(schema["paths"])


# --- routing -------------------------------------------------------------------------------


def test_schemathesis_finds_no_server_error_in_the_scoring_api(server: Server):
    from tests.api_fuzz import fuzz_openapi

    document = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    fuzzed = fuzz_openapi(server.url, document, {}, examples=30)
    assert "POST /v1/models/{experiment}/predict" in fuzzed


def test_alias_switch_is_picked_up_without_restart(server: Server, registry: Registry):
    rows = records(registry, 1)
    with server.client() as client:
        set_routing(registry, champion="1")
        wait_for_routing(client, champion="1", challenger=None, shadow=None)
        assert predict(client, rows).json()["model_version"] == "1"
        started = time.monotonic()
        set_routing(registry, champion="2", fallback="1")  # blue/green promote
        while predict(client, rows).json()["model_version"] != "2":
            assert time.monotonic() - started < 20, "promotion never reached traffic"
        promoted = time.monotonic() - started
        set_routing(registry, champion="1")  # rollback
        started = time.monotonic()
        while predict(client, rows).json()["model_version"] != "1":
            assert time.monotonic() - started < 20, "rollback never reached traffic"
        rolled_back = time.monotonic() - started
    print(f"alias switch reached traffic in {promoted:.3f} s, rollback in {rolled_back:.3f} s")


def test_canary_share_routes_entities_sticky_by_id(server: Server, registry: Registry):
    rows = records(registry, 40, start=200)
    with server.client() as client:
        set_routing(registry, share=0.5, champion="1", challenger="2")
        wait_for_routing(client, champion="1", challenger="2", challenger_share=0.5)
        first = predict(client, rows).json()
        again = [predict(client, [row]).json()["predictions"][0] for row in rows]
        set_routing(registry, champion="1")
        wait_for_routing(client, champion="1", challenger=None)
    versions = [p["model_version"] for p in first["predictions"]]
    assert versions == [p["model_version"] for p in again]  # sticky per entity
    assert set(versions) == {"1", "2"}
    expected = [
        "2" if in_challenger_bucket(MODEL, str(row[ID_COLUMN]), 0.5) else "1" for row in rows
    ]
    assert versions == expected


def test_shadow_is_logged_but_not_returned(server: Server, registry: Registry):
    path = prediction_log_path(registry.settings.lake_dir, MODEL)
    with server.client() as client:
        set_routing(registry, champion="1", shadow="2")
        wait_for_routing(client, champion="1", shadow="2")
        response = predict(client, records(registry, 3, start=50))
        set_routing(registry, champion="1")
        wait_for_routing(client, champion="1", shadow=None)
    body = response.json()
    assert body["model_version"] == "1"
    assert {p["model_version"] for p in body["predictions"]} == {"1"}
    deadline = time.monotonic() + 20
    while True:
        log = read_pandas(path) if path.exists() else None
        mine = log[log.request_id == body["request_id"]] if log is not None else []
        if len(mine) == 6 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    shadow = mine[mine.role == "shadow"]
    assert len(shadow) == 3 and not shadow.served.any() and set(shadow.model_version) == {"2"}
    served = mine[mine.role == "champion"]
    assert len(served) == 3 and served.served.all()
    assert sorted(served.record_index) == [0, 1, 2]


def test_broken_champion_falls_back_with_audit_then_503_without_fallback(
    server: Server, registry: Registry
):
    from aurora_pipelines.governance.store import GovernanceStore

    rows = records(registry, 2)
    with server.client() as client:
        set_routing(registry, champion="3", fallback="1")  # v3 fails its digest check
        wait_for_routing(client, champion="3", fallback="1")
        response = predict(client, rows)
        assert response.status_code == 200, response.text
        assert response.json()["model_version"] == "1"
        health = client.get("/health").json()
        assert health["status"] == "degraded"
        assert "3" in health["experiments"][MODEL]["load_errors"]

        set_routing(registry, champion="3")
        wait_for_routing(client, champion="3", fallback=None)
        unavailable = predict(client, rows)
        set_routing(registry, champion="1")
        wait_for_routing(client, champion="1")
    assert unavailable.status_code == 503
    assert "no model version" in unavailable.json()["detail"]
    assert "champion=3" in unavailable.json()["detail"]
    store = GovernanceStore.from_settings(registry.settings)
    deadline = time.monotonic() + 10
    while not (audited := store.read_audit(event=FALLBACK_EVENT)):
        assert time.monotonic() < deadline, "fallback never audited"
        time.sleep(0.1)
    assert audited[0]["target"] == f"model:{MODEL}:3"
    assert audited[0]["actor"] == "aurora-serve"


# --- load and the prediction log -----------------------------------------------------------


@contextlib.contextmanager
def cli_server(registry: Registry, home: Path, *options: str) -> Iterator[str]:
    """`aurora serve` in its own process; leaving the block sends SIGTERM (clean shutdown)."""
    port = free_port()
    env = {
        **os.environ,
        "AURORA_HOME": str(home),
        "AURORA_MLFLOW_TRACKING_URI": registry.tracking_uri,
    }
    command = [sys.executable, "-m", "aurora_pipelines.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--experiment", MODEL, "--poll-interval", "0.2", *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "aurora serve did not start"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=120)[0].decode()
        # uvicorn shuts down cleanly, then re-raises the signal it caught.
        assert process.returncode in (0, -signal.SIGTERM), output
        assert "Traceback" not in output, output


def test_200_concurrent_clients_then_sigterm_leave_one_log_row_per_answered_record(
    registry: Registry, tmp_path: Path
):
    """Bounded load on `aurora serve --workers 2`; after SIGTERM every answered record is in
    the log once: two worker processes, each with its own writer, append to one Delta table."""
    set_routing(registry, champion="1", fallback="1")
    home = tmp_path / "home"
    pool = records(registry, 200)
    answered: list[tuple[str, int]] = []  # (request id, records)
    failures: list[str] = []
    served_clients: set[int] = set()

    async def client_loop(client: httpx.AsyncClient, index: int, until: float) -> None:
        n = 1 + index % 3
        first = True
        while first or time.monotonic() < until:  # every client sends at least once
            first = False
            rows = pool[index : index + n]
            response = await client.post(f"/v1/models/{MODEL}/predict", json={"records": rows})
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:200]}")
            else:
                body = response.json()
                answered.append((body["request_id"], len(body["predictions"])))
                served_clients.add(index)

    async def load(url: str) -> None:
        # One pool of 200 keep-alive connections: 200 clients in flight at once.
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            until = time.monotonic() + 8
            await asyncio.gather(*(client_loop(client, i, until) for i in range(200)))

    with cli_server(registry, home, "--workers", "2", "--log-flush-ms", "300") as url:
        asyncio.run(load(url))
        pids: set[int] = set()
        for _ in range(300):  # a new connection each: whichever worker accepts answers
            pids.add(httpx.get(f"{url}/health", timeout=5).json()["pid"])
            if len(pids) == 2:
                break
    assert len(pids) == 2, pids  # both worker processes answer
    assert not failures, failures[:3]
    assert len(served_clients) == 200
    log = read_pandas(prediction_log_path(home / "lake", MODEL))
    assert set(log.columns) == set(COLUMNS)
    assert len(log) == sum(n for _, n in answered)
    assert set(log.request_id) == {request_id for request_id, _ in answered}
    assert not log.duplicated(["request_id", "record_index", "role"]).any()
    assert log.served.all() and (log.status == "ok").all() and (log.role == "champion").all()
    assert log.entity_id.isna().all()  # no spec file: the service knows no id column
    assert log.inputs.str.contains("credit_score").all()


def test_champion_raising_on_a_request_falls_back_and_is_logged_and_audited(
    server: Server, registry: Registry
):
    from aurora_pipelines.governance.store import GovernanceStore

    scoring = server.server.config.app.state.scoring
    with server.client() as client:
        set_routing(registry, champion="2", fallback="1")
        wait_for_routing(client, champion="2", fallback="1")
        loaded = scoring.pool.get(MODEL, "2")
        estimator = loaded.model.named_steps["model"]
        coef, fast = estimator.coef_, loaded._fast
        # Score through the sklearn pipeline (the fast path keeps its own copy of the
        # coefficients), whose real estimator now raises on every call.
        loaded._fast = None
        estimator.coef_ = coef[:, :3]
        try:
            response = predict(client, records(registry, 2, start=30))
        finally:
            estimator.coef_, loaded._fast = coef, fast
            set_routing(registry, champion="1")
            wait_for_routing(client, champion="1", fallback=None)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "1"
    path = prediction_log_path(registry.settings.lake_dir, MODEL)
    deadline = time.monotonic() + 20
    while True:
        log = read_pandas(path)
        mine = log[log.request_id == body["request_id"]]
        if len(mine) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    failed = mine[mine.role == "champion"]
    assert len(failed) == 2 and (failed.status == "error").all() and failed.served.all()
    assert set(failed.model_version) == {"2"} and failed.error.str.contains("Error").all()
    answered = mine[mine.role == "fallback"]
    assert len(answered) == 2 and answered.served.all() and set(answered.model_version) == {"1"}
    store = GovernanceStore.from_settings(registry.settings)
    deadline = time.monotonic() + 10
    while not [r for r in store.read_audit(event=FALLBACK_EVENT) if r["target"].endswith(":2")]:
        assert time.monotonic() < deadline, "request-time failure never audited"
        time.sleep(0.1)


def test_canary_controller_reads_the_service_log(server: Server, registry: Registry):
    """The contract with deploy/canary.py: it finds both arms of a canary in this log."""
    from datetime import UTC, datetime, timedelta

    from aurora_pipelines.deploy.canary import evaluate_canary, read_prediction_log
    from aurora_pipelines.specs import CanarySpec

    started = datetime.now(UTC) - timedelta(seconds=1)
    rows = records(registry, 40, start=400)
    with server.client() as client:
        set_routing(registry, share=0.5, champion="1", challenger="2")
        wait_for_routing(client, champion="1", challenger="2", challenger_share=0.5)
        request_id = predict(client, rows).json()["request_id"]
        set_routing(registry, champion="1")
        wait_for_routing(client, champion="1", challenger=None)
    path = prediction_log_path(registry.settings.lake_dir, MODEL)
    deadline = time.monotonic() + 20
    while True:
        log = read_prediction_log(path, started)
        if (log.request_id == request_id).sum() == 40 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    log = log[log.request_id == request_id]
    evaluation = evaluate_canary(
        log,
        champion="1",
        challenger="2",
        share=0.5,
        step_started=started,
        spec=CanarySpec(min_requests=1),
    )
    expected = sum(in_challenger_bucket(MODEL, str(r[ID_COLUMN]), 0.5) for r in rows)
    assert evaluation.challenger.answers == expected
    assert evaluation.champion.answers == 40 - expected
    assert evaluation.challenger.errors == 0 and evaluation.score_psi is not None


def test_aurora_serve_without_any_experiment_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    from aurora_pipelines.cli import main

    (tmp_path / "specs").mkdir()
    monkeypatch.setenv("AURORA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AURORA_EXPERIMENTS_DIR", str(tmp_path / "specs"))
    with pytest.raises(SystemExit) as exited:
        main(["serve"])
    assert exited.value.code == 1
    assert "no experiment to serve: pass --experiment NAME" in capsys.readouterr().err
