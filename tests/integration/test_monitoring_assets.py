"""monitor/drift and monitor/performance through Dagster, one daily partition, on real Spark,
Delta and MLflow: batch scores + prediction log of the day, checks, alerts to a real webhook
receiver on 127.0.0.1, the Delta time series and `aurora drift`."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from aurora_pipelines import lifecycle
from aurora_pipelines.lake import delta
from aurora_pipelines.registry.mlflow_registry import RegisteredModel
from aurora_pipelines.serving.prediction_log import PREDICTION_LOG_SCHEMA, prediction_log_path
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.sample_data import (
    ID_COLUMN,
    TARGET,
    TIME_COLUMN,
    generate_credit_data,
)
from aurora_pipelines.specs import write_spec
from tests.factories import (
    asset_metadata,
    export_home,
    make_spec,
    materialize,
    register_model,
    train_model,
)
from tests.http_receiver import Receiver

NAME = "drift_assets"
DAY = "2026-11-20"


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module")
def world(settings: Settings, spark, receiver, tmp_path_factory):
    """A champion trained on stable data; a drifted day of batch scores and logged predictions;
    labels for that day that contradict the model (so its AUC collapses)."""
    from aurora_pipelines.registry.model_version import load_model_version
    from aurora_pipelines.serving.batch import ScoringModel, score_day, write_day

    tmp = tmp_path_factory.mktemp("monitoring")
    # The session home (its Spark session), with this module's own experiment specs.
    local = settings.model_copy(update={"experiments_dir": tmp / "experiments"})
    train = generate_credit_data(2500, seed=21)
    result = train_model(train, cv_folds=2)
    features_path = local.lake_dir.joinpath(NAME, *lifecycle.FEATURES)
    delta.write_table(features_path, train)

    def register(alias: str | None = None) -> RegisteredModel:
        tags = {"experiment": NAME, "team": "risk"}
        return register_model(local, NAME, result, train, features_path, tags=tags, alias=alias)

    registered = register(alias="champion")
    handle = load_model_version(local.tracking_uri, NAME, registered.version)
    columns = list(handle.input_columns)

    batch = generate_credit_data(2000, seed=22, drift=True)
    delta.write_table(local.lake_dir.joinpath(NAME, *lifecycle.SCORING_FEATURES), batch)
    model = handle.model
    # The day's scores written as serve/batch_scores writes them (one `date` partition, the
    # class probabilities a map): a pandas round trip would turn the map into a struct.
    scored = score_day(
        spark.createDataFrame(batch),
        [ScoringModel("champion", handle)],
        day=DAY,
        time_column=None,
        id_column=ID_COLUMN,
    )
    write_day(scored, str(local.lake_dir.joinpath(NAME, *lifecycle.BATCH_SCORES)), DAY)

    logged = generate_credit_data(300, seed=23, drift=True)
    probabilities = model.predict_proba(logged[columns])[:, 1]
    now = datetime.now(UTC)
    log = pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(len(logged))],
            "record_index": 0,
            "entity_id": logged[ID_COLUMN],
            "experiment": NAME,
            "model_name": NAME,
            "model_version": registered.version,
            "role": "champion",
            "served": True,
            "status": "ok",
            "error": None,
            "score": probabilities,
            "prediction": (probabilities >= 0.5).astype("float64"),
            "latency_ms": 1.0,
            "inputs": [
                json.dumps({c: r[c] for c in columns}, default=str)
                for r in logged.to_dict("records")
            ],
            "ts": now,
            "date": DAY,
        }
    )
    log["record_index"] = log["record_index"].astype("int32")
    write_deltalake(
        str(prediction_log_path(local.lake_dir, NAME)),
        pa.Table.from_pandas(log, schema=PREDICTION_LOG_SCHEMA, preserve_index=False),
        partition_by=["date"],
    )
    labels = pd.concat([batch, logged])[[ID_COLUMN, TARGET]]
    labels[TARGET] = 1 - labels[TARGET]  # contradicting labels: the model's AUC falls below 0.5
    labels_path = tmp / "labels"
    delta.write_table(labels_path, labels)
    spec = make_spec(
        NAME,
        target=TARGET,
        id_column=ID_COLUMN,
        time_column=TIME_COLUMN,
        training={"primary_metric": "roc_auc"},
        monitoring={
            "webhook_url": receiver.url,
            "labels": {"kind": "delta", "path": str(labels_path)},
            "performance_tolerance": 0.05,
        },
    )
    write_spec(local.experiments_dir, spec)
    return {
        "settings": local,
        "spec": spec,
        "version": registered.version,
        "rows": 2300,
        "register_again": register,
    }


@pytest.fixture(scope="module")
def materialized(world, caplog_module):
    from aurora_pipelines.defs.assets.monitoring import build_monitoring_assets

    return materialize(world["settings"], build_monitoring_assets(world["spec"]), partition=DAY)


@pytest.fixture(scope="module")
def caplog_module():
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    logger = logging.getLogger("aurora.alerts")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_drift_window_reads_batch_scores_and_the_prediction_log(materialized, world):
    assert materialized.success
    metadata = asset_metadata(materialized, [NAME, *lifecycle.DRIFT])
    assert metadata["window"] == DAY
    assert metadata["rows"] == world["rows"]
    assert metadata["sources"] == "batch_scores, prediction_log"
    assert metadata["dataset_drift"] is True
    assert Path(metadata["report"]).exists()
    html = Path(metadata["report"]).read_text(encoding="utf-8")
    assert "<html" in html[:5000].lower() and "credit_score" in html


def test_drift_metadata_embeds_the_psi_chart_and_the_drift_share_over_time(materialized):
    metadata = asset_metadata(materialized, [NAME, *lifecycle.DRIFT])
    for name in ("psi_plot", "drift_share_over_time"):
        assert "](data:image/png;base64," in metadata[name], name
    assert metadata["dagster/column_schema"].columns
    # The Evidently HTML report as a link next to its path (defs/assets/links.py).
    assert metadata["report_url"] == Path(metadata["report"]).resolve().as_uri()


def test_drift_checks_have_warn_and_error_severities(materialized):
    checks = _checks(materialized)
    assert not checks["drift_share_max"].passed
    assert checks["drift_share_max"].severity == dg.AssetCheckSeverity.ERROR
    assert not checks["drift_share_warn"].passed
    assert checks["drift_share_warn"].severity == dg.AssetCheckSeverity.WARN
    assert not checks["feature_psi_error"].passed
    assert "credit_score" in checks["feature_psi_error"].description


def test_drift_results_are_appended_to_the_delta_series(materialized, world):
    from aurora_pipelines.monitoring.series import latest_window

    path = world["settings"].lake_dir.joinpath(NAME, *lifecycle.DRIFT)
    rows = latest_window(path, DAY)
    assert set(rows["window"]) == {DAY}
    assert "__score__" in set(rows["column"])  # prediction drift vs the reference scores
    assert {"psi", "test", "p_value", "js_distance", "drifted"} <= set(rows.columns)
    bins = world["settings"].lake_dir / NAME / "monitor" / "reference" / f"v{world['version']}"
    assert (bins / "bins.json").exists() and (bins / "sample.parquet").exists()


def test_performance_drop_beyond_tolerance_fails_the_error_check(materialized):
    metadata = asset_metadata(materialized, [NAME, *lifecycle.PERFORMANCE])
    assert metadata["labelled_rows"] == 2300
    assert metadata["value"] < 0.5 < metadata["training_value"]
    assert metadata["degraded"] is True
    check = _checks(materialized)["performance_tolerance"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR


def test_alerts_are_json_log_lines_and_webhook_posts(materialized, receiver, caplog_module):
    events = {body["event"] for body in receiver.bodies}
    assert {"drift_error", "performance_degraded"} <= events
    lines = [json.loads(r.getMessage()) for r in caplog_module]
    assert any(line["event"] == "drift_error" and line["window"] == DAY for line in lines)


def test_aurora_drift_prints_the_latest_window_as_json(materialized, world, monkeypatch, capsys):
    from aurora_pipelines.cli import main

    export_home(monkeypatch, world["settings"])
    main(["drift", NAME, "--window", DAY, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["window"] == DAY and data["dataset_drift"] is True
    assert data["drift_share"] > 0.3
    credit = next(f for f in data["features"] if f["column"] == "credit_score")
    assert credit["test"] == "ks" and credit["drifted"] is True and credit["p_value"] < 0.05
    assert {"psi", "test", "p_value", "drifted"} <= set(credit)
    assert data["prediction_drift"]["column"] == "__score__"
    with pytest.raises(SystemExit) as exit_info:
        main(["drift", NAME, "--window", "2026-01-02"])
    assert exit_info.value.code == 1


def test_champion_comparison_reports_the_interval_of_the_candidates_improvement(
    materialized, world
):
    """The same model registered again as the candidate: no improvement, a zero-width interval,
    so not better (a tie never wins). Runs last: it adds a version."""
    from aurora_pipelines.defs.assets.comparison import build_comparison_assets
    from aurora_pipelines.governance.store import GovernanceStore

    candidate = world["register_again"]()
    # As train/model does: the gates and this comparison read the candidate record.
    GovernanceStore.from_settings(world["settings"]).record_candidate(
        experiment=NAME,
        model_name=NAME,
        model_version=candidate.version,
        model_digest=candidate.digest,
        primary_metric="roc_auc",
        mlflow_run_id=candidate.run_id,
        created_by="ds_alice",
    )
    result = materialize(
        world["settings"], build_comparison_assets(world["spec"]), raise_on_error=True
    )
    metadata = asset_metadata(result, [NAME, *lifecycle.CHAMPION_COMPARISON])
    assert metadata["compared"] is True
    assert metadata["candidate_version"] == candidate.version != world["version"]
    assert metadata["method"] == "delong" and metadata["metric"] == "roc_auc"
    assert metadata["improvement"] == metadata["ci_low"] == metadata["ci_high"] == 0
    assert metadata["candidate_better"] is False
    assert metadata["rows"] == 2300 - 300  # the scoring batch's rows that have a label
    assert Path(metadata["report"]).exists()
