"""A clustering experiment through the governed lifecycle on real Spark, Delta and MLflow:
recommendations, train/model (k chosen on a sample), model card with cluster profiles, both
maker-checker approvals, UAT (adjusted Rand against the training assignment), production,
`/predict` on real uvicorn (cluster id + distance), Spark batch scoring and drift on the
output (cluster-share PSI) feeding the drift checks the retrain policy reads."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import dagster as dg
import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from aurora_pipelines import lifecycle
from aurora_pipelines.lake import delta
from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import ExperimentSpec, write_spec
from tests.factories import asset_metadata, home_settings, make_spec, materialize
from tests.integration.test_scoring_service import Server

NAME = "segments"
LOW_RISK = {
    "intended_use": "customer segments for campaign planning",
    "limitations": ["synthetic data"],
    "risk": {
        "materiality": "low",
        "decision_automation": "advisory",
        "personal_data": False,
        "regulatory_use": [],
    },
}


def _frame() -> pd.DataFrame:
    X, y = make_blobs(1200, centers=3, n_features=4, cluster_std=0.8, random_state=3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    frame["plan"] = np.where(y == 0, "basic", "plus")
    frame["customer_id"] = [f"C{i:05d}" for i in range(len(frame))]
    frame["truth"] = y
    return frame


class Chain:
    def __init__(self, settings: Settings, spec: ExperimentSpec) -> None:
        from aurora_pipelines.defs.assets.deploy import build_deploy_assets
        from aurora_pipelines.defs.assets.explain import build_explain_assets
        from aurora_pipelines.defs.assets.governance import build_governance_assets
        from aurora_pipelines.defs.assets.monitoring import build_monitoring_assets
        from aurora_pipelines.defs.assets.serving import build_serving_assets
        from aurora_pipelines.defs.assets.training import build_training_assets

        self.settings, self.spec = settings, spec
        self.assets = [
            *build_training_assets(spec),
            *build_explain_assets(spec),
            *build_governance_assets(spec),
            *build_deploy_assets(spec),
            *build_serving_assets(spec),
            *build_monitoring_assets(spec),
        ]
        self.results: dict[tuple[str, ...], dg.ExecuteInProcessResult] = {}

    def run(self, stage: lifecycle.Stage, partition: str | None = None):
        key = dg.AssetKey(self.spec.key(*stage))
        result = materialize(
            self.settings, [a for a in self.assets if key in a.keys], partition=partition
        )
        self.results[tuple(stage)] = result
        return result

    def waits_at(self, stage: lifecycle.Stage) -> bool:
        """The gate stops the run without failing it: its `approved` check fails as a WARN."""
        result = self.run(stage)
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        approved = checks.get("approved")
        return (
            result.success
            and approved is not None
            and not approved.passed
            and approved.severity == dg.AssetCheckSeverity.WARN
        )

    def approve(self, gate: str) -> None:
        from aurora_pipelines.governance.store import GovernanceStore

        store = GovernanceStore.from_settings(self.settings)
        (request,) = store.list_requests(experiment=NAME, gate=gate, status="pending")
        store.decide(request.id, "approve", "validator_bob", comment="segments look right")
        store.dispose()


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, spark) -> Chain:
    root = tmp_path_factory.mktemp("unsupervised")
    settings = home_settings(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AURORA_HOME", str(root))
        patch.setenv("AURORA_EXPERIMENTS_DIR", str(settings.experiments_dir))
        spec = make_spec(
            NAME,
            target=None,
            problem_type="clustering",
            id_column="customer_id",
            governance=LOW_RISK,
            unsupervised={"k_max": 6, "search_rows": 1000},
        )
        write_spec(settings.experiments_dir, spec)
        frame = _frame()
        features = frame.drop(columns="truth")
        delta.write_table(settings.lake_dir.joinpath(NAME, *lifecycle.RAW), features)
        delta.write_table(settings.lake_dir.joinpath(NAME, *lifecycle.FEATURES), features)
        # The batch holds blob 0 only: the cluster shares shift, the inputs too.
        batch = features[frame["truth"] == 0].reset_index(drop=True)
        delta.write_table(settings.lake_dir.joinpath(NAME, *lifecycle.SCORING_FEATURES), batch)
        run = Chain(settings, spec)
        assert run.run(lifecycle.RECOMMENDATIONS).success
        assert run.run(lifecycle.MODEL).success
        assert run.run(lifecycle.MODEL_CARD).success
        assert run.waits_at(lifecycle.STAGING_APPROVAL)  # pending: the maker waits
        run.approve("staging")
        assert run.run(lifecycle.STAGING_APPROVAL).success
        assert run.run(lifecycle.STAGING).success
        assert run.run(lifecycle.UAT_SCORES).success
        assert run.waits_at(lifecycle.PRODUCTION_APPROVAL)
        run.approve("production")
        assert run.run(lifecycle.PRODUCTION_APPROVAL).success
        assert run.run(lifecycle.PRODUCTION).success
        run.day = datetime.now(UTC).strftime("%Y-%m-%d")
        assert run.run(lifecycle.BATCH_SCORES, run.day).success
        run.run(lifecycle.DRIFT, run.day)
        yield run


def test_recommendations_name_unsupervised_algorithms_with_reasons(chain: Chain):
    path = chain.settings.reports_dir / NAME / "train" / "recommendations.json"
    recommendation = json.loads(path.read_text())
    assert recommendation["problem_type"] == "clustering"
    assert recommendation["primary_metric"] == "silhouette"
    assert recommendation["algorithms"][0]["algorithm"] == "kmeans"
    assert all(a["reasons"] for a in recommendation["algorithms"])
    assert any("no target column" in note for note in recommendation["notes"])


def test_k_is_chosen_and_registered_with_curve_profiles_and_assignment(chain: Chain):
    from mlflow import MlflowClient

    from aurora_pipelines.registry import mlflow_registry
    from aurora_pipelines.registry.model_version import load_model_version

    metadata = asset_metadata(
        chain.results[tuple(lifecycle.MODEL)], chain.spec.key("train", "model")
    )
    assert metadata["k"] == 3.0 and metadata["silhouette"] > 0.5
    uri = chain.settings.tracking_uri
    version = load_model_version(uri, NAME, "1")
    assert version.problem_type == "clustering" and version.is_unsupervised
    assert version.primary_metric == "silhouette" and version.greater_is_better
    assert version.class_keys == ("0", "1", "2")
    registered = mlflow_registry.get_model_version(uri, NAME, "1")
    assert registered.digest.startswith("sha256:")
    artifacts = {a.path for a in MlflowClient(uri).list_artifacts(registered.run_id)}
    assert {"curve.json", "report.json", "training_assignment.parquet", "plots"} <= artifacts
    tags = mlflow_registry.version_tags(uri, NAME, "1")
    assert tags["feature_table"].endswith(f"{NAME}/features")
    card = chain.settings.reports_dir / NAME / "model_card" / "v1" / "model_card.md"
    text = card.read_text()
    assert "Cluster profiles (original units)" in text and registered.digest in text


def test_uat_assignment_is_stable_against_training(chain: Chain):
    metadata = asset_metadata(
        chain.results[tuple(lifecycle.UAT_SCORES)], chain.spec.key(*lifecycle.UAT_SCORES)
    )
    assert metadata["primary_metric"] == "silhouette"
    report = json.loads(
        (chain.settings.reports_dir / NAME / "uat" / "v1" / "uat_report.json").read_text()
    )
    assert report["metrics"]["adjusted_rand"] == pytest.approx(1.0)
    assert report["score_summary"]["overlapping_ids"] == report["rows"] > 0


def test_batch_scores_carry_cluster_distance_and_membership(chain: Chain):
    scores = delta.read_pandas(chain.settings.lake_dir / NAME / "serve" / "batch_scores")
    assert len(scores) == 400 and set(scores["model_version"]) == {"1"}
    # Blob 0 is one cluster: every row of the batch gets the same id, a small distance.
    assert scores["prediction"].nunique() == 1
    assert (scores["score"] >= 0).all() and scores["score"].median() < 2.0
    membership = scores["class_probabilities"].iloc[0]
    assert sorted(dict(membership)) == ["0", "1", "2"]


def test_drift_sees_the_cluster_share_shift(chain: Chain):
    metadata = asset_metadata(
        chain.results[tuple(lifecycle.DRIFT)], chain.spec.key(*lifecycle.DRIFT)
    )
    # One PSI per cluster's membership share (the per-output scores of the version).
    shares = metadata["class_score_psi"]
    assert sorted(shares) == ["__score__[0]", "__score__[1]", "__score__[2]"]
    assert max(shares.values()) > chain.spec.monitoring.psi_threshold
    checks = {
        c.check_name: c.passed
        for c in chain.results[tuple(lifecycle.DRIFT)].get_asset_check_evaluations()
    }
    assert checks["prediction_drift"] is False


def test_predict_returns_cluster_and_distance_over_http(chain: Chain):
    from aurora_pipelines.serving.scoring import ServiceConfig

    config = ServiceConfig.from_settings(chain.settings, [NAME], poll_interval=0.1)
    server = Server(config).start()
    try:
        rows = delta.read_pandas(chain.settings.lake_dir / NAME / "features").head(3)
        records = json.loads(rows.to_json(orient="records"))
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for _ in range(100):
                health = client.get("/health").json()
                if health["experiments"].get(NAME, {}).get("can_answer"):
                    break
                time.sleep(0.1)
            response = client.post(f"/v1/models/{NAME}/predict", json={"records": records})
        assert response.status_code == 200, response.text
        predictions = response.json()["predictions"]
        assert [set(p) for p in predictions] == [{"cluster", "distance", "model_version"}] * 3
        assert all(p["cluster"] in (0, 1, 2) and p["distance"] >= 0 for p in predictions)
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("kind", "keys"), [("anomaly_detection", ["anomaly"]), ("dimensionality_reduction", None)]
)
def test_spark_batch_scoring_writes_anomaly_flags_and_components(spark, kind, keys):
    from aurora_pipelines.registry.model_version import ModelVersion, metric_direction
    from aurora_pipelines.serving.batch import score_batch
    from aurora_pipelines.specs import UnsupervisedSpec
    from aurora_pipelines.training.unsupervised.estimators import (
        output_keys,
        unsupervised_outputs,
    )
    from aurora_pipelines.training.unsupervised.trainer import train_unsupervised

    frame = _frame().drop(columns="truth")
    result = train_unsupervised(
        frame, problem_type=kind, settings=UnsupervisedSpec(), seed=1, id_column="customer_id"
    )
    version = ModelVersion(
        name="toy",
        version="1",
        model=result.model,
        input_columns=tuple(result.feature_columns),
        problem_type=kind,
        primary_metric=result.primary_metric,
        greater_is_better=metric_direction(result.primary_metric, kind),
        classes=output_keys(result.model),
    )
    scored = score_batch(
        spark.createDataFrame(frame.head(200)), version, id_column="customer_id"
    ).toPandas()
    score, prediction, matrix = unsupervised_outputs(result.model, frame.head(200))
    assert np.allclose(scored["score"], score) and np.allclose(scored["prediction"], prediction)
    expected = keys or [f"pc{i + 1}" for i in range(matrix.shape[1])]
    assert sorted(scored["class_probabilities"].iloc[0]) == sorted(expected)
