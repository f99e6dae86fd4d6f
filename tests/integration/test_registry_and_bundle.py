"""Registry and bundles on a real MLflow SQLite store, a local artifact dir and S3 via moto."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from aurora_pipelines.deploy.artifact_store import (
    ArtifactStore,
    LocalArtifactStore,
    S3ArtifactStore,
    artifact_store_from_url,
)
from aurora_pipelines.deploy.bundle import build_bundle, fetch_bundle
from aurora_pipelines.errors import IntegrityError, NotFound, SpecError
from aurora_pipelines.registry.digest import artifact_digest, model_version_digest
from aurora_pipelines.registry.mlflow_registry import (
    RegisteredModel,
    download_model,
    get_alias_version,
    latest_version,
    load_model,
    set_alias,
)
from aurora_pipelines.sources.sample_data import generate_credit_data
from tests.factories import register_model, train_model

MODEL = "credit_default"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry")


@pytest.fixture(scope="module")
def tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'mlflow.db'}"


@pytest.fixture(scope="module")
def data():
    return generate_credit_data(1500, seed=3)


@pytest.fixture(scope="module")
def result(data):
    return train_model(data, algorithms=["logistic_regression", "hist_gradient_boosting"], seed=11)


def _register(result, data, tracking_uri: str, workdir: Path, name: str) -> RegisteredModel:
    return register_model(
        tracking_uri,
        name,
        result,
        data,
        workdir / "lake" / "features" / "credit",
        features_version=4,
        experiment="credit",
        tags={"experiment": "credit", "team": "risk"},
    )


@pytest.fixture(scope="module")
def registered(result, data, tracking_uri, workdir) -> RegisteredModel:
    return _register(result, data, tracking_uri, workdir, MODEL)


def _storage_dir(tracking_uri: str, name: str, version: str) -> Path:
    uri = MlflowClient(tracking_uri, tracking_uri).get_model_version_download_uri(name, version)
    return Path(uri.removeprefix("file://"))


# --- registry ---------------------------------------------------------------------------


def test_registered_digest_equals_a_recomputation(registered, tracking_uri, tmp_path):
    assert registered.digest.startswith("sha256:")
    assert model_version_digest(tracking_uri, MODEL, registered.version) == registered.digest
    local = download_model(tracking_uri, MODEL, registered.version, tmp_path / "m")
    assert artifact_digest(local) == registered.digest
    tags = (
        MlflowClient(tracking_uri, tracking_uri).get_model_version(MODEL, registered.version).tags
    )
    assert tags["digest"] == registered.digest


def test_digest_changes_when_any_file_changes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.bin").write_bytes(b"one")
    before = artifact_digest(tmp_path / "a")
    (tmp_path / "a" / "x.bin").write_bytes(b"two")
    edited = artifact_digest(tmp_path / "a")
    (tmp_path / "a" / "x.bin").rename(tmp_path / "a" / "y.bin")
    renamed = artifact_digest(tmp_path / "a")
    assert len({before, edited, renamed}) == 3


def test_run_records_folds_lineage_leaderboard_and_why_it_was_chosen(
    registered, result, tracking_uri
):
    client = MlflowClient(tracking_uri, tracking_uri)
    run = client.get_run(registered.run_id)
    assert run.data.params["feature_table"].endswith("features/credit")
    assert run.data.params["feature_table_version"] == "4"
    assert run.data.tags["team"] == "risk"
    assert run.data.metrics["roc_auc"] == pytest.approx(result.metrics["roc_auc"])
    folds = client.get_metric_history(registered.run_id, "cv_roc_auc")
    assert sorted(m.step for m in folds) == [0, 1, 2]
    assert [m.value for m in sorted(folds, key=lambda m: m.step)] == pytest.approx(
        result.cv[result.best_algorithm]["roc_auc"]
    )
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "credit@v4"
    assert "features/credit" in dataset_input.dataset.source
    board = json.loads(
        Path(client.download_artifacts(registered.run_id, "leaderboard.json")).read_text()
    )
    assert [row["algorithm"] for row in board] == [r["algorithm"] for r in result.leaderboard]
    version = client.get_model_version(MODEL, registered.version)
    assert result.best_algorithm in version.description
    assert "roc_auc" in version.description
    assert version.tags["feature_table_version"] == "4"


def test_model_is_stored_with_skops_and_loads_back_identical(
    registered, result, data, tracking_uri
):
    local = _storage_dir(tracking_uri, MODEL, registered.version)
    assert (local / "model.skops").exists()
    assert not list(local.glob("*.pkl"))
    loaded = load_model(tracking_uri, MODEL, registered.version)
    np.testing.assert_allclose(
        loaded.predict_proba(data.head(50)), result.model.predict_proba(data.head(50))
    )


def test_load_model_refuses_artifacts_changed_after_registration(
    result, data, tracking_uri, workdir
):
    victim = _register(result, data, tracking_uri, workdir, "tamper_target")
    with (_storage_dir(tracking_uri, victim.name, victim.version) / "MLmodel").open("a") as f:
        f.write("\n# edited\n")
    with pytest.raises(IntegrityError, match="do not match the registered digest"):
        load_model(tracking_uri, victim.name, victim.version)


def test_aliases_point_at_versions(registered, tracking_uri):
    assert get_alias_version(tracking_uri, MODEL, "staging") is None
    set_alias(tracking_uri, MODEL, "staging", registered.version)
    assert get_alias_version(tracking_uri, MODEL, "staging") == registered.version
    assert get_alias_version(tracking_uri, "no_such_model", "staging") is None
    with pytest.raises(NotFound, match="has no version 99"):
        set_alias(tracking_uri, MODEL, "champion", "99")


def test_latest_version_reports_digest_and_cv_metrics(registered, result, tracking_uri):
    latest = latest_version(tracking_uri, MODEL)
    assert latest is not None
    assert latest.version == registered.version
    assert latest.digest == registered.digest
    assert latest.metrics == pytest.approx(result.metrics)
    assert latest_version(tracking_uri, "no_such_model") is None


# --- artifact stores and bundles ---------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    fake = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    previous = {k: os.environ.get(k) for k in fake}
    os.environ.update(fake)
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="aurora-artifacts")
    yield endpoint
    server.stop()
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> ArtifactStore:
    if request.param == "local":
        return artifact_store_from_url(str(tmp_path / "store"))
    request.getfixturevalue("s3_endpoint")
    # A fresh prefix per test: the bucket is shared by the module.
    return artifact_store_from_url(
        f"s3://aurora-artifacts/{request.node.name}".replace("[", "_").replace("]", "")
    )


def test_store_from_url_picks_the_backend(tmp_path, s3_endpoint):
    s3 = artifact_store_from_url("s3://aurora-artifacts/team/a")
    assert isinstance(s3, S3ArtifactStore)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == ("aurora-artifacts", "team/a", s3_endpoint)
    assert isinstance(artifact_store_from_url(str(tmp_path)), LocalArtifactStore)
    with pytest.raises(SpecError, match="unsupported scheme"):
        artifact_store_from_url("gs://bucket/x")


def test_store_replaces_a_directory_without_leaving_stale_files(store, tmp_path):
    first = tmp_path / "first"
    (first / "sub").mkdir(parents=True)
    (first / "a.txt").write_text("a1")
    (first / "sub" / "old.txt").write_text("old")
    store.put(first, "things/x")
    second = tmp_path / "second"
    second.mkdir()
    (second / "a.txt").write_text("a2")
    uri = store.put(second, "things/x")
    assert uri.endswith("things/x")
    assert store.list("things/") == ["things/x/a.txt"]
    got = store.get("things/x", tmp_path / "got")
    assert (got / "a.txt").read_text() == "a2"
    assert not (got / "sub").exists()


def test_store_files_exists_list_and_missing_keys(store, tmp_path):
    (tmp_path / "f.json").write_text("{}")
    store.put(tmp_path / "f.json", "dir/f.json")
    assert store.exists("dir/f.json") and store.exists("dir")
    assert not store.exists("dir/g.json")
    assert store.list("dir") == ["dir/f.json"]
    assert store.list("nothing") == []
    assert store.get("dir/f.json", tmp_path / "out.json").read_text() == "{}"
    with pytest.raises(NotFound, match="no artifact 'dir/g.json'"):
        store.get("dir/g.json", tmp_path / "g.json")
    with pytest.raises(SpecError, match=r"'\.\.'"):
        store.put(tmp_path / "f.json", "../escape")


def _bundle(store, registered, tracking_uri, tmp_path, digest=None):
    card = tmp_path / "card.md"
    card.write_text("# Model card\n")
    return build_bundle(
        tracking_uri=tracking_uri,
        model_name=MODEL,
        version=registered.version,
        expected_digest=digest or registered.digest,
        environment="staging",
        manifest_extra={"experiment": "credit", "digest": "sha256:forged"},
        model_card=card,
        store=store,
        deployed_by="rita",
        correlation_id="corr-123",
        approval_ids=["apr-1"],
    )


def test_bundle_is_built_verified_and_fetched(store, registered, tracking_uri, tmp_path):
    ref = _bundle(store, registered, tracking_uri, tmp_path)
    assert ref.key == f"bundles/{MODEL}/{registered.version}/staging"
    manifest = ref.manifest
    # manifest_extra adds fields but cannot forge the ones that identify the model.
    assert manifest["digest"] == registered.digest
    assert manifest["experiment"] == "credit"
    assert manifest["model_name"] == MODEL and manifest["model_version"] == registered.version
    assert manifest["environment"] == "staging"
    assert manifest["feature_table"].endswith("features/credit")
    assert manifest["feature_table_version"] == 4
    assert manifest["approval_ids"] == ["apr-1"]
    assert (manifest["deployed_by"], manifest["correlation_id"]) == ("rita", "corr-123")
    assert "inputs" in manifest["signature"] and manifest["created_at"]
    keys = store.list(ref.key)
    assert f"{ref.key}/manifest.json" in keys
    assert f"{ref.key}/model/model.skops" in keys
    assert f"{ref.key}/model_card.md" in keys

    fetched = fetch_bundle(store, ref.key, tmp_path / "fetched", expected_digest=registered.digest)
    assert json.loads((fetched / "manifest.json").read_text()) == manifest
    assert artifact_digest(fetched / "model") == registered.digest


def test_bundle_is_refused_when_the_model_does_not_match_the_approved_digest(
    store, registered, tracking_uri, tmp_path
):
    with pytest.raises(IntegrityError, match="not the approved sha256:0000"):
        _bundle(store, registered, tracking_uri, tmp_path, digest="sha256:" + "0" * 64)
    assert store.list("bundles/") == []


def test_tampered_bundle_is_refused_on_fetch(store, registered, tracking_uri, tmp_path):
    ref = _bundle(store, registered, tracking_uri, tmp_path)
    edited = tmp_path / "evil.skops"
    edited.write_bytes(b"not the approved model")
    store.put(edited, f"{ref.key}/model/model.skops")
    with pytest.raises(IntegrityError, match="the bundle was modified"):
        fetch_bundle(store, ref.key, tmp_path / "fetched")


def test_fetch_pins_the_approved_digest(store, registered, tracking_uri, tmp_path):
    ref = _bundle(store, registered, tracking_uri, tmp_path)
    with pytest.raises(IntegrityError, match="not the expected"):
        fetch_bundle(store, ref.key, tmp_path / "fetched", expected_digest="sha256:other")
