"""UAT on real Spark, Delta and MLflow: the staging model scores the UAT hold-out, the report
compares it with the training metrics, and its evidence is what the production approval shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aurora_pipelines.deploy.uat import run_uat, select_uat_set, uat_evidence
from aurora_pipelines.lake import delta
from aurora_pipelines.settings import REPO_DIR
from aurora_pipelines.sources.sample_data import (
    ID_COLUMN,
    TARGET,
    TIME_COLUMN,
    generate_credit_data,
)
from aurora_pipelines.specs import load_spec
from tests.factories import register_model, train_model

NAME = "credit_uat"


@pytest.fixture(scope="module")
def spec():
    base = load_spec(REPO_DIR / "experiments" / "credit_default.yaml")
    return base.model_copy(
        update={
            "name": NAME,
            "target": TARGET,
            "id_column": ID_COLUMN,
            "time_column": TIME_COLUMN,
            "training": base.training.model_copy(update={"holdout_fraction": 0.2}),
        }
    )


@pytest.fixture(scope="module")
def staged(tmp_path_factory, spec):
    """A registered model and its feature table (Delta), as train/model leaves them."""
    root = tmp_path_factory.mktemp("uat")
    data = generate_credit_data(2000, seed=5)
    features = root / "lake" / NAME / "features"
    delta.write_table(features, data)
    result = train_model(data, validation="time", holdout_fraction=0.2)
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    registered = register_model(tracking_uri, NAME, result, data, features)
    return root, tracking_uri, registered, data, features


def test_default_uat_set_is_the_most_recent_slice_by_time(spark, spec, staged):
    _, _, _, data, features = staged
    chosen, why = select_uat_set(spark, spec, features)
    rows = chosen.toPandas()
    assert "most recent 20%" in why and TIME_COLUMN in why
    assert len(rows) == pytest.approx(0.2 * len(data), rel=0.05)
    cutoff = rows[TIME_COLUMN].min()
    assert (data[TIME_COLUMN] >= cutoff).sum() == pytest.approx(len(rows), abs=len(data) * 0.01)
    # Without a time column: a seeded hash sample by id, the same rows every time.
    untimed = spec.model_copy(update={"time_column": None})
    first, why = select_uat_set(spark, untimed, features)
    second, _ = select_uat_set(spark, untimed, features)
    ids = sorted(first.toPandas()[ID_COLUMN])
    assert "hash sample" in why and ids == sorted(second.toPandas()[ID_COLUMN])
    assert len(ids) == pytest.approx(0.2 * len(data), rel=0.15)


def test_uat_scores_writes_delta_and_a_report_against_training_metrics(spark, spec, staged):
    root, tracking_uri, registered, _, features = staged
    run = run_uat(
        spark,
        spec,
        tracking_uri=tracking_uri,
        model_version=registered.version,
        features_path=features,
        output_path=root / "lake" / NAME / "serve" / "uat_scores",
        reports_dir=root / "reports",
    )
    report, paths, version = run.report, run.paths, run.table_version
    scores = delta.read_pandas(root / "lake" / NAME / "serve" / "uat_scores")
    assert version == 0 and len(scores) == report.rows
    assert {ID_COLUMN, "score", "prediction", TARGET, "model_version"} <= set(scores.columns)
    assert set(scores["model_version"]) == {registered.version}
    auc = next(r for r in report.comparison if r["metric"] == "roc_auc")
    # Time-based holdout in training == the UAT slice: the metrics agree closely.
    from aurora_pipelines.registry.mlflow_registry import get_model_version

    training = get_model_version(tracking_uri, NAME, registered.version).metrics
    assert auc["training_holdout"] == pytest.approx(training["holdout_roc_auc"])
    assert auc["training_cv"] == pytest.approx(training["roc_auc"])
    assert abs(auc["delta"]) < 0.05
    assert sum(b["rows"] for b in report.score_distribution) == report.rows
    markdown = Path(paths["uat_report_markdown"]).read_text()
    assert "| roc_auc |" in markdown and "Score distribution" in markdown
    assert "<table>" in Path(paths["uat_report"]).read_text()

    evidence = uat_evidence(root / "reports", NAME, registered.version)
    assert evidence["uat_report"] == paths["uat_report"]
    assert evidence["uat_rows"] == report.rows
    assert evidence["uat_metrics"]["roc_auc"] == pytest.approx(auc["uat"], abs=1e-6)
    json.dumps(evidence)  # goes into the approval request's JSON details
    assert uat_evidence(root / "reports", NAME, "999") == {}


def test_a_uat_source_is_read_with_the_teams_grants(spark, spec, staged, tmp_path):
    from aurora_pipelines.errors import AuroraError
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.sources.access import SourceAccess
    from aurora_pipelines.specs import SourceSpec

    _, _, _, data, features = staged
    source = SourceSpec(kind="delta", path=str(features))
    with_source = spec.model_copy(
        update={"deployment": spec.deployment.model_copy(update={"uat_source": source})}
    )
    settings = Settings(home=tmp_path)
    risk = SourceAccess.from_settings(settings, "risk", experiment=NAME)
    chosen, why = select_uat_set(spark, with_source, features, risk)
    assert "uat_source" in why and chosen.count() == len(data)
    outsider = SourceAccess.from_settings(settings, "model_risk", experiment=NAME)
    with pytest.raises(AuroraError, match="model_risk"):
        select_uat_set(spark, with_source, features, outsider)
    with pytest.raises(AuroraError, match="needs the team's data access"):
        select_uat_set(spark, with_source, features)
