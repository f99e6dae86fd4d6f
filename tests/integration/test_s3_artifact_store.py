"""The S3 artifact store against moto's server (its own process, real HTTP on 127.0.0.1), through
a proxy that injects 5xx failures and dropped connections: retries survive them, multipart
uploads run with a small threshold, and a deployment bundle round-trips (put, get, verify;
tampering refused)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import boto3
import pytest

from aurora_pipelines.deploy.artifact_store import S3ArtifactStore, artifact_store_from_url
from aurora_pipelines.deploy.bundle import build_bundle, fetch_bundle
from aurora_pipelines.errors import IntegrityError, SourceError
from aurora_pipelines.registry.digest import model_version_digest
from tests.factories import register_stub_versions
from tests.s3_support import DROP, TRUNCATE, FlakyProxy, aws_env, moto_server

BUCKET = "aurora-bundles"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with moto_server() as endpoint, aws_env(endpoint):
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint


@pytest.fixture
def proxy(moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlakyProxy]:
    with FlakyProxy(moto) as flaky:
        monkeypatch.setenv("AWS_ENDPOINT_URL", flaky.endpoint)
        yield flaky


def _store(request: pytest.FixtureRequest, **env: str) -> S3ArtifactStore:
    for key, value in env.items():
        os.environ[key] = value
    try:
        store = artifact_store_from_url(f"s3://{BUCKET}/{request.node.name}")
    finally:
        for key in env:
            os.environ.pop(key, None)
    assert isinstance(store, S3ArtifactStore)
    store.backoff_seconds = 0.01
    return store


def test_requests_that_fail_with_503_are_retried_and_succeed(proxy, request, tmp_path):
    store = _store(request)
    (tmp_path / "m.bin").write_bytes(b"model bytes")
    proxy.fail(3, status=503)
    store.put(tmp_path / "m.bin", "m.bin")
    assert len(proxy.failed) == 3 and proxy.failed[0][0] == "PUT"
    proxy.fail(2, status=500, when=lambda method, path: method == "GET")
    got = store.get("m.bin", tmp_path / "back.bin")
    assert got.read_bytes() == b"model bytes"
    assert len(proxy.failed) == 2


def test_dropped_connections_and_a_truncated_download_are_retried_and_verified(
    proxy, request, tmp_path
):
    store = _store(request)
    payload = os.urandom(256 * 1024)
    (tmp_path / "m.bin").write_bytes(payload)
    proxy.fail(2, status=DROP, when=lambda method, path: method == "PUT")
    store.put(tmp_path / "m.bin", "m.bin")
    assert len(proxy.failed) == 2 and store.exists("m.bin")
    proxy.fail(1, status=TRUNCATE, when=lambda method, path: method == "GET")
    got = store.get("m.bin", tmp_path / "back.bin")
    assert len(proxy.failed) == 1
    assert got.read_bytes() == payload  # never the half the dropped answer carried


def test_multipart_upload_with_a_small_threshold_survives_failing_parts(
    proxy, moto, request, tmp_path
):
    store = _store(request, AURORA_S3_MULTIPART_THRESHOLD_MB="5")
    payload = os.urandom(12 * MiB)
    (tmp_path / "big.bin").write_bytes(payload)
    proxy.fail(2, status=500, when=lambda method, path: "partNumber=" in path)
    store.put(tmp_path / "big.bin", "big.bin")
    assert len(proxy.failed) == 2
    parts = {p for m, p in proxy.requests if m == "PUT" and "partNumber=" in p}
    assert any("uploads" in p for m, p in proxy.requests if m == "POST")  # CreateMultipartUpload
    assert len(parts) == 3  # 12 MiB in 5 MiB parts (chunk size = max(5 MiB, threshold / 4))
    head = boto3.client("s3", endpoint_url=moto).head_object(
        Bucket=BUCKET, Key=f"{request.node.name}/big.bin"
    )
    assert head["ETag"].strip('"').endswith("-3")  # S3's multipart ETag: md5-of-md5s-<parts>
    assert store.get("big.bin", tmp_path / "back.bin").read_bytes() == payload


def test_our_retry_restarts_a_transfer_when_botocore_gives_up(proxy, request, tmp_path):
    store = _store(request, AURORA_S3_MAX_ATTEMPTS="1")  # botocore: one attempt, no retry
    (tmp_path / "f.txt").write_text("x")
    proxy.fail(2, status=503)
    store.put(tmp_path / "f.txt", "f.txt")
    assert len(proxy.failed) == 2
    assert len(store.retried) == 2 and "ServiceUnavailable" in store.retried[0]
    assert store.exists("f.txt")


def test_a_store_that_stays_down_fails_with_a_clear_error(proxy, request, tmp_path):
    store = _store(request, AURORA_S3_MAX_ATTEMPTS="2")
    store.transfer_attempts = 2
    (tmp_path / "f.txt").write_text("x")
    proxy.fail(100, status=503)
    with pytest.raises(SourceError, match=r"cannot reach S3 for upload .* after 2 attempt"):
        store.put(tmp_path / "f.txt", "f.txt")
    assert len(proxy.failed) == 4  # 2 transfers x 2 requests


def test_bundle_round_trip_through_s3_verifies_every_file(proxy, request, tmp_path):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (version,) = register_stub_versions(tracking_uri, tmp_path / "reg", "s3_bundle_model", 1)
    digest = model_version_digest(tracking_uri, "s3_bundle_model", version)
    card = tmp_path / "card"
    card.mkdir()
    (card / "model_card.html").write_text("<h1>card</h1>")
    (card / "model_card.md").write_text("# card")
    store = _store(request)
    proxy.fail(2, status=503)  # the put itself goes through injected failures
    ref = build_bundle(
        tracking_uri=tracking_uri,
        model_name="s3_bundle_model",
        version=version,
        expected_digest=digest,
        environment="production",
        manifest_extra={"experiment": "s3_bundle_model"},
        model_card=card,
        store=store,
        deployed_by="release_manager_dave",
        correlation_id="corr-s3",
        approvals=[{"id": 1, "gate": "staging"}, {"id": 2, "gate": "production"}],
    )
    assert len(proxy.failed) == 2
    assert ref.uri.startswith(f"s3://{BUCKET}/")
    assert ref.manifest["approval_ids"] == ["1", "2"]
    assert set(ref.manifest["files"]) == {"model_card/model_card.html", "model_card/model_card.md"}
    fetched = fetch_bundle(
        store,
        ref.key,
        tmp_path / "ok",
        expected_digest=digest,
        expected_manifest_digest=ref.manifest_digest,
    )
    assert (fetched / "model_card" / "model_card.md").read_text() == "# card"

    # A tampered model card is refused on download.
    (tmp_path / "evil.md").write_text("# approved by nobody")
    store.put(tmp_path / "evil.md", f"{ref.key}/model_card/model_card.md")
    with pytest.raises(IntegrityError, match="model_card/model_card.md does not hash"):
        fetch_bundle(store, ref.key, tmp_path / "tampered")

    # A rewritten manifest (consistent with the tampered file) is caught by its pinned digest.
    manifest = dict(ref.manifest)
    manifest["files"] = {**manifest["files"], "model_card/model_card.md": "sha256:forged"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    store.put(tmp_path / "manifest.json", f"{ref.key}/manifest.json")
    with pytest.raises(IntegrityError, match="manifest was rewritten"):
        fetch_bundle(
            store, ref.key, tmp_path / "rewritten", expected_manifest_digest=ref.manifest_digest
        )


def test_a_threshold_below_the_s3_part_minimum_is_refused():
    from aurora_pipelines.errors import SpecError

    with pytest.raises(SpecError, match="minimum part size"):
        S3ArtifactStore("b", multipart_threshold=1024, client=object())


def test_store_reads_the_s3_specific_endpoint_variable(moto, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto)
    store = artifact_store_from_url(f"s3://{BUCKET}/x")
    assert store.endpoint_url == moto
    assert store.list() == []
