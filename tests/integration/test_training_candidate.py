"""train/model through Dagster on a real Delta feature table, MLflow SQLite store and governance
database: the runs carry the run's correlation id, the version it produced is recorded as the
experiment's candidate, and the staging gate and the model card decide on that record."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from mlflow import MlflowClient

from aurora_pipelines import lifecycle
from aurora_pipelines.deploy.promotion import candidate_for_gate
from aurora_pipelines.errors import IntegrityError, NotFound
from aurora_pipelines.governance.store import GovernanceStore
from aurora_pipelines.lake import delta
from aurora_pipelines.lifecycle import Gate
from aurora_pipelines.registry import mlflow_registry
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.sample_data import generate_credit_data
from aurora_pipelines.specs import ExperimentSpec, write_spec
from tests.factories import (
    asset_metadata,
    export_home,
    governance_store,
    home_settings,
    make_spec,
    materialize,
    resources_for,
)

CORRELATION_ID = "corr-cli-7f3a"  # what `aurora run` puts in the run's aurora/correlation_id tag


@dataclass
class Trained:
    cwd: Path
    settings: Settings
    spec: ExperimentSpec
    result: dg.ExecuteInProcessResult
    governance: GovernanceStore

    @property
    def metadata(self) -> dict:
        return asset_metadata(self.result, self.spec.key(*lifecycle.MODEL))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """train/model materialized once, in a run tagged like a CLI-launched one."""
    from aurora_pipelines.defs.assets.training import build_training_assets

    home = tmp_path_factory.mktemp("candidate_home")
    with pytest.MonkeyPatch.context() as mp:
        # An empty working directory: MLflow's default store (`sqlite:///mlflow.db`) would
        # appear here if any call reached it (see the last test).
        mp.chdir(tmp_path_factory.mktemp("candidate_cwd"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        settings = home_settings(home)
        export_home(mp, settings)
        spec = make_spec(
            "candidate_exp",
            time_column="application_date",
            training={
                "algorithms": ["logistic_regression"],
                "primary_metric": "roc_auc",
                "metric_min": 0.1,
                "cv_folds": 3,
                "max_train_rows": 500,
                "hpo": {"n_trials": 1},
            },
            # Low risk tier: no compliance requirements, so the staging gate files its request
            # without a model card (unassessed would be the high tier).
            governance={
                "risk": {
                    "materiality": "low",
                    "decision_automation": "advisory",
                    "personal_data": False,
                    "regulatory_use": [],
                }
            },
        )
        write_spec(settings.experiments_dir, spec)
        delta.write_table(
            settings.lake_dir.joinpath(spec.name, *lifecycle.FEATURES),
            generate_credit_data(700, seed=8),
        )
        result = materialize(
            settings, build_training_assets(spec), tags={"aurora/correlation_id": CORRELATION_ID}
        )
        assert result.success
        governance = GovernanceStore.from_settings(settings)
        yield Trained(Path.cwd(), settings, spec, result, governance)
        governance.dispose()


def test_cli_run_correlation_id_tags_the_mlflow_runs_like_its_audit_rows(trained: Trained):
    uri = trained.settings.tracking_uri
    version = trained.metadata["model_version"]
    client = MlflowClient(uri, uri)
    mv = client.get_model_version(trained.spec.name, version)
    run = client.get_run(mv.run_id)
    assert run.data.tags["aurora.correlation_id"] == CORRELATION_ID
    assert run.data.tags["aurora.dagster_run_id"] == trained.result.run_id != CORRELATION_ID
    assert mv.tags["aurora.correlation_id"] == CORRELATION_ID
    trials = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{mv.run_id}'"
    )
    assert trials and {t.data.tags["aurora.correlation_id"] for t in trials} == {CORRELATION_ID}
    # The audit row of the candidate carries the same id.
    (row,) = trained.governance.read_audit(event="candidate_recorded")
    assert row["correlation_id"] == CORRELATION_ID
    assert row["target"] == f"model/{trained.spec.name}/{version}"


def test_train_model_records_its_version_as_the_candidate_with_its_evidence(trained: Trained):
    meta = trained.metadata
    record = trained.governance.latest_candidate(trained.spec.name)
    assert record is not None
    assert (record.model_name, record.model_version, record.model_digest) == (
        trained.spec.name,
        meta["model_version"],
        meta["model_digest"],
    )
    assert record.primary_metric == "roc_auc"
    assert record.metric_value == pytest.approx(meta["cv_roc_auc"])
    assert record.mlflow_run_id == meta["mlflow_run_id"]
    assert record.dagster_run_id == trained.result.run_id
    assert record.correlation_id == CORRELATION_ID and record.created_by == "ds_alice"
    (row,) = trained.governance.read_audit(event="candidate_recorded")
    assert row["seq"] == record.audit_seq and trained.governance.verify_audit().ok
    # The plan's problem type and metric are version tags (what load_model_version reads).
    tags = mlflow_registry.version_tags(
        trained.settings.tracking_uri, trained.spec.name, meta["model_version"]
    )
    assert tags["aurora.problem_type"] == "classification"
    assert tags["aurora.primary_metric"] == "roc_auc"
    # max_train_rows: 500 of the 700 rows, chosen by the shared sampling rule.
    assert meta["training_rows"] == 500
    (check,) = trained.result.get_asset_check_evaluations()
    assert check.passed and check.metadata["direction"].value == "min"


def test_train_model_metadata_embeds_its_evaluation_plots_and_leaderboard(trained: Trained):
    metadata = trained.metadata
    for name in ("roc_curve_plot", "pr_curve_plot", "feature_importance_plot"):
        assert "](data:image/png;base64," in metadata[name], name
    assert "| algorithm" in metadata["leaderboard"] or "|" in metadata["leaderboard"]
    # A link to the run's page in the MLflow UI (AURORA_MLFLOW_UI_URL, default `make mlflow-ui`).
    uri = trained.settings.tracking_uri
    run = MlflowClient(uri, uri).get_run(metadata["mlflow_run_id"])
    assert metadata["mlflow_run"] == (
        f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    )


def test_staging_gate_decides_on_the_train_model_version_not_a_newer_registration(
    trained: Trained, tmp_path: Path
):
    from aurora_pipelines.defs.assets.governance import build_governance_assets

    uri = trained.settings.tracking_uri
    produced = trained.metadata["model_version"]
    # A version registered by something else (a manual registration): newest, but no candidate.
    client = MlflowClient(uri, uri)
    source = mlflow_registry.download_model(uri, trained.spec.name, produced, tmp_path / "copy")
    run = client.create_run(client.get_experiment_by_name(trained.spec.name).experiment_id)
    client.log_artifacts(run.info.run_id, str(source), "model")
    manual = client.create_model_version(
        trained.spec.name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id
    )
    assert mlflow_registry.latest_version(uri, trained.spec.name).version == str(manual.version)

    candidate = candidate_for_gate(
        uri, trained.spec.name, Gate.staging, governance=trained.governance
    )
    assert (candidate.version, candidate.digest) == (produced, trained.metadata["model_digest"])

    # Through Dagster: the staging approval request binds to the train/model version.
    staging_approval = build_governance_assets(trained.spec)[0]
    result = materialize(trained.settings, [staging_approval])
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["model_version"].value == produced
    (request,) = trained.governance.list_requests(trained.spec.name, gate="staging")
    assert request.model_version == produced
    # The risk tier is on the request, the MLflow version and the gate's metadata.
    assert request.tier == "low"
    assert (
        mlflow_registry.version_tags(uri, trained.spec.name, produced)["aurora.risk_tier"] == "low"
    )
    assert event.materialization.metadata["risk_tier"].value == "low"
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"compliance": True, "approved": False}


def test_a_pending_approval_stops_the_run_at_the_gate_without_failing_it(trained: Trained):
    """The run succeeds up to the gate; what follows is skipped; the gate's check names the
    request and who must decide. Once approved, the same selection carries on."""
    from aurora_pipelines.defs.assets.governance import build_governance_assets

    staging_approval = build_governance_assets(trained.spec)[0]

    @dg.asset(key=trained.spec.key(*lifecycle.STAGING), deps=[staging_approval.key])
    def staging() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    instance = dg.DagsterInstance.ephemeral()
    waiting = materialize(trained.settings, [staging_approval, staging], instance=instance)
    assert waiting.success  # no red run for "waiting for approval"
    assert [e.asset_key for e in waiting.get_asset_materialization_events()] == [
        staging_approval.key
    ]
    skipped = [e.step_key for e in waiting.all_events if e.event_type_value == "STEP_SKIPPED"]
    assert skipped == [staging.op.name]
    (check,) = [c for c in waiting.get_asset_check_evaluations() if c.check_name == "approved"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    (request,) = trained.governance.list_requests(trained.spec.name, gate="staging")
    assert check.metadata["approval_request_id"].value == request.id
    assert "validator_bob" in check.metadata["who_must_decide"].value
    assert f"#{request.id}" in (check.description or "")
    # The request's page on the checkers' site (AURORA_GOVERNANCE_UI_URL), on the check and
    # on the gate's materialization.
    page = f"http://127.0.0.1:8765/ui/requests/{request.id}"
    assert check.metadata["governance_request"].value == page
    (gate_event,) = waiting.get_asset_materialization_events()
    assert gate_event.materialization.metadata["governance_request"].value == page

    trained.governance.decide(request.id, "approve", actor="validator_bob", comment="ok")
    approved = materialize(trained.settings, [staging_approval, staging], instance=instance)
    assert approved.success
    assert {e.asset_key for e in approved.get_asset_materialization_events()} == {
        staging_approval.key,
        staging.key,
    }


def test_the_approval_sensor_never_relaunches_a_promotion_already_carried_out(trained: Trained):
    """A new Dagster instance starts the sensor's cursor at 0: decisions already promoted (by
    the CLI, the sensor or anyone) are skipped, the one not yet carried out is launched."""
    from aurora_pipelines.defs.jobs import build_experiment_jobs
    from aurora_pipelines.defs.sensors.approval import build_approval_sensor

    spec = trained.spec
    sensor = build_approval_sensor({spec.name: build_experiment_jobs(spec)})
    (request,) = trained.governance.list_requests(spec.name, gate="staging", status="approved")

    def launched() -> list[dg.RunRequest]:
        with dg.build_sensor_context(
            instance=dg.DagsterInstance.ephemeral(), resources=resources_for(trained.settings)
        ) as context:
            return list(sensor(context) or [])

    (run,) = launched()
    assert run.job_name == f"{spec.name}__promote_staging"
    assert run.tags["aurora/approval_request_id"] == str(request.id)
    # What deploy.promotion.promote audits once the version is deployed.
    trained.governance.audit(
        "promotion",
        actor="ds_alice",
        target=f"{request.model_name}/{request.model_version}",
        details={"gate": "staging", "approval_id": request.id},
    )
    assert launched() == []


def test_model_card_reads_the_quality_score_from_the_profile_the_engine_wrote(trained: Trained):
    from aurora_pipelines.defs.assets.explain import build_explain_assets
    from aurora_pipelines.profiling.experiment import profile_json_path

    settings, spec = trained.settings, trained.spec
    features = delta.read_pandas(settings.lake_dir.joinpath(spec.name, *lifecycle.FEATURES))
    delta.write_table(settings.lake_dir.joinpath(spec.name, *lifecycle.RAW), features)
    profile = profile_json_path(settings, spec.name)
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text(json.dumps({"quality_score": 87.254, "rows": len(features)}))

    # A fresh Dagster instance: eda/profile was never materialized in its event log.
    result = materialize(settings, build_explain_assets(spec))
    assert result.success
    version = trained.metadata["model_version"]
    card = settings.reports_dir.joinpath(spec.name, "model_card", f"v{version}", "model_card.md")
    # The data-sources table: the score (two decimals) instead of "n/a".
    assert re.search(r"\|\s+87\.25\s+\|", card.read_text())
    # What the Dagster UI shows of the card: its summary table and the SHAP chart inline.
    metadata = asset_metadata(result, spec.key(*lifecycle.MODEL_CARD))
    assert "| holdout roc_auc |" in metadata["card_summary"]
    assert "](data:image/png;base64," in metadata["shap_importance_plot"]
    # The HTML card as a link that opens without a server.
    html = card.with_suffix(".html")
    assert html.is_file() and metadata["model_card_url"] == html.resolve().as_uri()


def test_a_candidate_whose_artifacts_changed_is_refused_by_the_staging_gate(trained: Trained):
    uri = trained.settings.tracking_uri
    name = trained.spec.name
    version = trained.metadata["model_version"]
    client = MlflowClient(uri, uri)
    stored = Path(client.get_model_version_download_uri(name, version).removeprefix("file://"))
    target = stored / "MLmodel"
    original = target.read_text()
    try:
        target.write_text(original + "\n# edited after registration\n")
        with pytest.raises(IntegrityError, match="not the .* train/model recorded"):
            candidate_for_gate(uri, name, Gate.staging, governance=trained.governance)
    finally:
        target.write_text(original)


def test_staging_gate_without_a_training_candidate_says_to_train(tmp_path: Path):
    store = governance_store(f"sqlite:///{tmp_path / 'gov.db'}")
    with pytest.raises(NotFound, match="no training candidate .* materialize train/model"):
        candidate_for_gate(
            f"sqlite:///{tmp_path / 'mlflow.db'}", "nothing", Gate.staging, governance=store
        )
    store.dispose()


def test_no_path_writes_mlflow_db_to_the_working_directory(trained: Trained):
    # Training, registration, the staging gate and the model card ran in `trained.cwd`. A
    # registration outside `_tracking` once resolved `models:/` through MLflow's default
    # tracking URI and left an empty mlflow.db in the repository root.
    assert Path.cwd() == trained.cwd
    assert not (trained.cwd / "mlflow.db").exists()
    assert not (trained.cwd / "mlruns").exists()
