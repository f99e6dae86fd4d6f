"""Deployment records and governed releases (blue/green, rollback, canary, shadow) on a real
MLflow SQLite registry and the governance database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aurora_pipelines.deploy import release, routing
from aurora_pipelines.deploy.release import ReleaseContext
from aurora_pipelines.errors import GovernanceError, NotFound, PermissionDenied
from aurora_pipelines.governance.store import GovernanceStore
from aurora_pipelines.registry.digest import model_version_digest
from tests.factories import ReleaseWorld, approve, governance_store, release_world

MODEL = "credit_release"


def bundle(
    tracking_uri: str, store, name: str, version: str, governance: GovernanceStore | None
) -> str:
    """The staging bundle deploy/staging would build for `version`, with the deployment record
    that keeps its manifest digest (none when `governance` is None); returns its key."""
    from aurora_pipelines.deploy.bundle import build_bundle

    ref = build_bundle(
        tracking_uri=tracking_uri,
        model_name=name,
        version=version,
        expected_digest=model_version_digest(tracking_uri, name, version),
        environment="staging",
        manifest_extra={},
        model_card=None,
        store=store,
        deployed_by="ds_alice",
        correlation_id="c",
    )
    if governance is None:
        return ref.key
    governance.record_deployment(
        experiment=name,
        model_name=name,
        environment="staging",
        strategy="blue_green",
        action="promote",
        deployed_by="ds_alice",
        champion=version,
        bundle_uri=ref.uri,
        correlation_id="c",
        details={"manifest_digest": ref.manifest_digest, "bundle_key": ref.key},
    )
    return ref.key


@pytest.fixture
def world(tmp_path: Path, governance_url: str) -> Iterator[ReleaseWorld]:
    with release_world(tmp_path, governance_url, MODEL, 3) as world:
        yield world


def ctx(world, actor: str = "release_manager_dave") -> ReleaseContext:
    tracking_uri, store, _ = world
    return ReleaseContext(tracking_uri, store, actor, "corr-test", MODEL, MODEL)


def test_deployment_records_are_stored_with_their_audit_row(governance_url):
    store = governance_store(governance_url)
    record = store.record_deployment(
        experiment="e",
        model_name="m",
        environment="production",
        strategy="canary",
        action="canary_start",
        deployed_by="release_manager_dave",
        champion="1",
        challenger="2",
        fallback=None,
        challenger_share=0.25,
        correlation_id="c-1",
        reason="why",
        details={"k": [1, 2]},
    )
    assert record.traffic_split == {"1": 0.75, "2": 0.25}
    (listed,) = store.list_deployments("m")
    assert listed == record
    (row,) = store.read_audit(event="deployment_canary_start")
    assert row["seq"] == record.audit_seq and row["correlation_id"] == "c-1"
    assert row["details"]["challenger_share"] == 0.25
    assert store.verify_audit().ok
    with pytest.raises(Exception, match="strategy"):
        store.record_deployment(
            experiment="e", model_name="m", environment="production", strategy="big_bang",
            action="x", deployed_by="a",
        )  # fmt: skip
    store.dispose()


def test_only_release_managers_may_change_deployments_and_denials_are_audited(world):
    _, store, _ = world
    with pytest.raises(PermissionDenied, match="needs the release_manager or admin role"):
        release.authorize(ctx(world, "mrm_carol"), "promote")
    with pytest.raises(PermissionDenied, match="unknown identity"):
        release.authorize(ctx(world, "mallory"), "rollback")
    denied = store.read_audit(event="access_denied")
    assert [d["actor"] for d in denied] == ["mrm_carol", "mallory"]
    assert denied[0]["details"]["action"] == "deploy_promote"
    release.authorize(ctx(world, "admin_erin"), "promote")  # no exception


def test_promote_refuses_a_version_without_production_approval(world):
    tracking_uri, store, (v1, *_) = world
    approve(store, tracking_uri, MODEL, v1, gates=("staging",))
    with pytest.raises(GovernanceError, match="cannot serve production traffic"):
        release.promote(ctx(world), v1)
    assert routing.read_routing(tracking_uri, MODEL).champion is None
    assert store.list_deployments(MODEL) == []


def test_blue_green_promote_and_rollback_move_aliases_and_are_recorded(world):
    tracking_uri, store, (v1, v2, _) = world
    for v in (v1, v2):
        approve(store, tracking_uri, MODEL, v)
    first = release.promote(ctx(world), v1)
    assert (first.champion_version, first.fallback_version) == (v1, None)
    second = release.promote(ctx(world), v2)
    assert (second.champion_version, second.fallback_version) == (v2, v1)
    state = routing.read_routing(tracking_uri, MODEL)
    assert (state.champion, state.fallback, state.strategy) == (v2, v1, "blue_green")

    back = release.rollback(ctx(world), reason="p99 regression")
    assert (back.action, back.champion_version, back.fallback_version) == ("rollback", v1, None)
    assert back.reason == "p99 regression"
    assert routing.read_routing(tracking_uri, MODEL).champion == v1
    assert [r.action for r in store.list_deployments(MODEL)] == ["rollback", "promote", "promote"]
    events = [r["event"] for r in store.read_audit()]
    assert events.count("deployment_promote") == 2 and "deployment_rollback" in events
    with pytest.raises(NotFound, match="no fallback"):
        release.rollback(ctx(world))


def test_canary_starts_the_approved_version_as_challenger_and_promote_finishes_it(world):
    tracking_uri, store, (v1, v2, v3) = world
    approve(store, tracking_uri, MODEL, v1)
    approve(store, tracking_uri, MODEL, v2)
    release.promote(ctx(world), v1)
    with pytest.raises(GovernanceError, match="no approval request"):
        release.start_canary(ctx(world), 0.1, v3)
    record = release.start_canary(ctx(world), 0.1, v2)
    assert (record.champion_version, record.challenger_version) == (v1, v2)
    assert record.traffic_split == {v1: 0.9, v2: 0.1}
    state = routing.read_routing(tracking_uri, MODEL)
    assert (state.challenger, state.challenger_share, state.strategy) == (v2, 0.1, "canary")
    # Blue/green promote without --version takes the challenger.
    done = release.promote(ctx(world))
    assert (done.champion_version, done.challenger_version, done.fallback_version) == (v2, None, v1)
    assert routing.read_routing(tracking_uri, MODEL).challenger_share == 0.0


def test_a_tampered_bundle_refuses_the_deployment(world, tmp_path):
    import dataclasses

    from aurora_pipelines.deploy.artifact_store import LocalArtifactStore
    from aurora_pipelines.errors import IntegrityError

    tracking_uri, store, (v1, v2, _) = world
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    for v in (v1, v2):
        approve(store, tracking_uri, MODEL, v)
    with_store = dataclasses.replace(ctx(world), store=artifacts)
    with pytest.raises(NotFound, match="no deployment bundle"):
        release.promote(with_store, v1)
    bundle(tracking_uri, artifacts, MODEL, v1, store)
    assert release.promote(with_store, v1).champion_version == v1
    key = bundle(tracking_uri, artifacts, MODEL, v2, store)
    (artifacts.root / key / "model" / "MLmodel").write_text("flavors: {}\n# swapped\n")
    with pytest.raises(IntegrityError, match="the bundle was modified"):
        release.promote(with_store, v2)
    assert routing.read_routing(tracking_uri, MODEL).champion == v1
    (refused,) = store.read_audit(event="deployment_refused")
    assert refused["target"] == f"model/{MODEL}/{v2}@production"


def test_a_rewritten_manifest_with_recomputed_file_hashes_is_refused_at_promote(world, tmp_path):
    import dataclasses

    from aurora_pipelines.deploy.artifact_store import LocalArtifactStore
    from aurora_pipelines.deploy.bundle import MANIFEST, _file_digests
    from aurora_pipelines.errors import IntegrityError

    tracking_uri, store, (v1, v2, _) = world
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    approve(store, tracking_uri, MODEL, v1)
    root = artifacts.root / bundle(tracking_uri, artifacts, MODEL, v1, store)
    # Same model bytes, another threshold and a swapped card, with every file hash recomputed:
    # the bundle is consistent in itself, only the recorded manifest digest can tell.
    manifest = json.loads((root / MANIFEST).read_text())
    (root / "model_card.md").write_text("# Model card\nNo limitations.\n")
    manifest.update(decision_threshold=0.01, model_card="model_card.md", files=_file_digests(root))
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    with_store = dataclasses.replace(ctx(world), store=artifacts)
    with pytest.raises(IntegrityError, match="the manifest was rewritten"):
        release.promote(with_store, v1)
    assert routing.read_routing(tracking_uri, MODEL).champion is None
    (refused,) = store.read_audit(event="deployment_refused")
    assert "manifest.json hashes to" in refused["details"]["reason"]

    # A bundle no promotion recorded cannot be verified, so it is refused too.
    approve(store, tracking_uri, MODEL, v2)
    bundle(tracking_uri, artifacts, MODEL, v2, governance=None)
    with pytest.raises(IntegrityError, match="no recorded manifest digest"):
        release.promote(with_store, v2)


def test_shadow_needs_the_staging_approval_and_never_takes_traffic(world):
    tracking_uri, store, (v1, v2, _) = world
    approve(store, tracking_uri, MODEL, v1)
    release.promote(ctx(world), v1)
    with pytest.raises(GovernanceError, match="cannot shadow"):
        release.start_shadow(ctx(world), v2)
    approve(store, tracking_uri, MODEL, v2, gates=("staging",))
    record = release.start_shadow(ctx(world), v2)
    assert record.shadow_version == v2 and record.traffic_split == {v1: 1.0}
    assert release.stop_shadow(ctx(world)).shadow_version is None


def test_cli_deploy_commands_are_governed(world, monkeypatch, capsys, tmp_path):
    from aurora_pipelines.cli import main

    tracking_uri, store, (v1, v2, _) = world
    approve(store, tracking_uri, MODEL, v1)
    approve(store, tracking_uri, MODEL, v2)
    from aurora_pipelines.deploy.artifact_store import LocalArtifactStore

    for v in (v1, v2):  # what deploy/staging leaves in the artifact store
        bundle(tracking_uri, LocalArtifactStore(tmp_path / "home" / "artifacts"), MODEL, v, store)
    monkeypatch.setenv("AURORA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AURORA_MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", store.url)
    monkeypatch.setenv("AURORA_USER", "ds_alice")
    with pytest.raises(SystemExit):
        main(["deploy", "promote", MODEL, "--version", v1])
    err = capsys.readouterr().err
    assert err.startswith("error: ds_alice") and "release_manager" in err
    monkeypatch.setenv("AURORA_USER", "release_manager_dave")
    main(["deploy", "promote", MODEL, "--version", v1])
    main(["deploy", "canary", MODEL, "--share", "0.2", "--version", v2])
    main(["deploy", "promote", MODEL])
    main(["deploy", "rollback", MODEL])
    out = capsys.readouterr().out
    assert "rollback" in out and f"champion v{v1}" in out.splitlines()[-1]
    main(["deploy", "status", MODEL, "--json"])
    status = json.loads(capsys.readouterr().out)
    assert status["routing"]["champion"] == v1
    assert [d["action"] for d in status["deployments"] if d["environment"] == "production"] == [
        "rollback",
        "promote",
        "canary_start",
        "promote",
    ]


def test_approvals_show_prints_the_uat_evidence_for_the_approver(
    governance_url, monkeypatch, capsys, tmp_path
):
    from aurora_pipelines.cli import main

    store = governance_store(governance_url)
    evidence = {"uat_report": "/r/uat_report.html", "uat_metrics": {"roc_auc": 0.81}}
    request = store.request_approval(
        "e", "production", "m", "3", "a" * 64, "ds_alice", details=evidence
    )
    monkeypatch.setenv("AURORA_HOME", str(tmp_path))
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", governance_url)
    main(["approvals", "show", str(request.id)])
    out = capsys.readouterr().out
    assert "uat_report: /r/uat_report.html" in out and '"roc_auc": 0.81' in out
    store.dispose()


def test_the_production_gate_follows_the_spec_strategy_and_records_the_deployment(world, tmp_path):
    from aurora_pipelines.deploy.artifact_store import LocalArtifactStore
    from aurora_pipelines.deploy.promotion import Candidate, promote
    from aurora_pipelines.lifecycle import Gate

    tracking_uri, store, (v1, v2, _) = world
    artifacts = LocalArtifactStore(tmp_path / "artifacts")

    def gate(version: str):
        approve(store, tracking_uri, MODEL, version)
        digest = model_version_digest(tracking_uri, MODEL, version)
        return promote(
            gate=Gate.production,
            experiment=MODEL,
            candidate=Candidate(MODEL, version, digest),
            governance=store,
            store=artifacts,
            tracking_uri=tracking_uri,
            actor="ds_alice",
            correlation_id="corr-gate",
            strategy="canary",
            canary_share=0.1,
        )

    first = gate(v1)  # nothing to compare with: the first version becomes champion
    assert (first.role, first.strategy) == ("champion", "blue_green")
    second = gate(v2)
    assert (second.role, second.strategy) == ("challenger", "canary")
    state = routing.read_routing(tracking_uri, MODEL)
    assert (state.champion, state.challenger, state.challenger_share) == (v1, v2, 0.1)
    record = store.list_deployments(MODEL, "production")[0]
    assert (record.id, record.action, record.correlation_id) == (
        second.deployment_id,
        "canary_start",
        "corr-gate",
    )
    manifest = json.loads(
        (artifacts.root / f"bundles/{MODEL}/{v2}/production/manifest.json").read_text()
    )
    assert [a["gate"] for a in manifest["approvals"]] == ["staging", "production"]
    assert manifest["approval_ids"] == [str(a["id"]) for a in manifest["approvals"]]
    assert manifest["approvals"][1]["decided_by"] == "mrm_carol"
    assert manifest["deployed_by"] == "ds_alice" and manifest["correlation_id"] == "corr-gate"
