"""Identity on every CLI path: under a token policy, decisions, deployment actions, token
operations and data access need a valid personal token; AURORA_USER alone is believed only under
`identity: trust_env`, and every action says how its actor was established (`auth`)."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aurora_pipelines.cli import main
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.settings import DEFAULT_POLICY
from tests.factories import cli_error as _fails

DIGEST = "b" * 64


def _use_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, identity: str) -> Path:
    text = DEFAULT_POLICY.read_text().replace("identity: trust_env", f"identity: {identity}")
    path = tmp_path / f"policy_{identity}.yaml"
    path.write_text(text)
    monkeypatch.setenv("AURORA_POLICY", str(path))
    return path


@pytest.fixture
def strict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GovernanceStore:
    """A governance home under a token policy (no `identity: trust_env`), with no caller set."""
    monkeypatch.setenv("AURORA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", f"sqlite:///{tmp_path / 'home' / 'gov.db'}")
    monkeypatch.delenv("AURORA_USER", raising=False)
    policy = _use_policy(tmp_path, monkeypatch, "token")
    return GovernanceStore(f"sqlite:///{tmp_path / 'home' / 'gov.db'}", load_policy(policy))


def _request(store: GovernanceStore, requester: str = "ds_alice") -> int:
    return store.request_approval("idcase", "staging", "idcase", "1", DIGEST, requester).id


def _login(
    store: GovernanceStore, user: str, monkeypatch: pytest.MonkeyPatch, **kwargs
) -> tuple[str, int]:
    """A token for `user` saved with `aurora login --token-stdin`: (token, token id)."""
    token, info = store.create_token(user, user, **kwargs)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    main(["login", "--token-stdin"])
    return token, info.id


def _token_file() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "aurora" / "token"


def test_a_forged_aurora_user_without_a_token_cannot_approve(strict, capsys, monkeypatch):
    request_id = _request(strict)
    # The requester claims to be the validator: under a token policy that claim is worthless.
    monkeypatch.setenv("AURORA_USER", "validator_bob")
    err = _fails(capsys, "approvals", "approve", str(request_id), "--comment", "lgtm")
    assert "needs your personal token" in err and "aurora login" in err
    assert strict.get_request(request_id).status == "pending"
    denied = strict.read_audit(event="access_denied")[-1]
    assert denied["actor"] == "validator_bob" and denied["target"].startswith("cli:approvals")
    assert denied["details"]["claimed_user"] == "validator_bob"


def test_the_requester_token_cannot_approve_nor_pose_as_someone_else(strict, capsys, monkeypatch):
    request_id = _request(strict)
    _login(strict, "ds_alice", monkeypatch)
    capsys.readouterr()
    err = _fails(capsys, "approvals", "approve", str(request_id), "--comment", "mine")
    assert "requester" in err
    monkeypatch.setenv("AURORA_USER", "validator_bob")
    err = _fails(capsys, "approvals", "approve", str(request_id), "--comment", "as bob")
    assert "your token" in err and "ds_alice's" in err and "unset AURORA_USER" in err
    assert strict.get_request(request_id).status == "pending"


def test_a_validator_logged_in_with_a_token_approves_and_the_audit_says_how(
    strict, capsys, monkeypatch
):
    request_id = _request(strict)
    _, token_id = _login(strict, "validator_bob", monkeypatch)
    assert "logged in as validator_bob" in capsys.readouterr().out
    assert (_token_file().stat().st_mode & 0o777) == 0o600
    main(["whoami"])
    assert "validator_bob (model_validator" in capsys.readouterr().out
    main(["approvals", "approve", str(request_id), "--comment", "validated"])
    assert strict.get_request(request_id).decided_by == "validator_bob"
    approved = strict.read_audit(event="approval_approved")[-1]
    assert approved["details"]["auth"] == "token"
    assert approved["details"]["token_id"] == token_id
    main(["audit", "verify"])
    assert "audit chain intact" in capsys.readouterr().out


def test_aurora_token_is_used_without_a_login_file(strict, capsys, monkeypatch):
    request_id = _request(strict)
    token, _ = strict.create_token("validator_bob", "validator_bob")
    monkeypatch.setenv("AURORA_TOKEN", token)
    main(["approvals", "reject", str(request_id), "--comment", "thin evidence"])
    assert strict.get_request(request_id).status == "rejected"
    assert not _token_file().exists()


def test_a_revoked_token_is_refused(strict, capsys, monkeypatch):
    request_id = _request(strict)
    _, token_id = _login(strict, "validator_bob", monkeypatch)
    main(["tokens", "revoke", str(token_id)])  # revoked by its owner, through the CLI
    capsys.readouterr()
    err = _fails(capsys, "approvals", "approve", str(request_id), "--comment", "late")
    assert "was revoked by validator_bob" in err and "aurora login" in err
    assert strict.get_request(request_id).status == "pending"
    assert strict.read_audit(event="access_denied")[-1]["details"]["token_id"] == token_id


def test_an_expired_token_is_refused(strict, capsys, monkeypatch):
    from aurora_pipelines.governance.identity import save_token

    request_id = _request(strict)
    token, info = strict.create_token(
        "validator_bob", "validator_bob", expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    save_token(token, _token_file())  # saved while it was valid; it has expired since
    err = _fails(capsys, "approvals", "approve", str(request_id), "--comment", "late")
    assert "expired at" in err and "aurora login" in err
    assert strict.get_request(request_id).status == "pending"
    assert strict.read_audit(event="access_denied")[-1]["details"]["token_id"] == info.id


def test_login_with_an_expired_or_unknown_token_writes_no_file(strict, capsys, monkeypatch):
    old, _ = strict.create_token(
        "validator_bob", "validator_bob", expires_at=datetime.now(UTC) - timedelta(hours=1)
    )
    for token in (old, "aur_not-a-token"):
        monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
        err = _fails(capsys, "login", "--token-stdin")
        assert "expired at" in err or "unknown bearer token" in err
    assert not _token_file().exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620], ids=oct)
def test_a_token_file_others_can_read_or_write_is_refused_with_the_fix(
    strict, capsys, monkeypatch, mode
):
    request_id = _request(strict)
    _login(strict, "validator_bob", monkeypatch)
    _token_file().chmod(mode)
    capsys.readouterr()
    err = _fails(capsys, "approvals", "approve", str(request_id), "--comment", "ok")
    assert f"(mode {mode:04o})" in err and f"chmod 600 {_token_file()}" in err
    assert strict.get_request(request_id).status == "pending"
    _token_file().chmod(0o600)
    main(["approvals", "approve", str(request_id), "--comment", "ok"])
    assert strict.get_request(request_id).status == "approved"


def test_a_symlinked_token_file_is_refused(strict, capsys, monkeypatch):
    _login(strict, "validator_bob", monkeypatch)
    real = _token_file().with_name("real")
    _token_file().rename(real)
    _token_file().symlink_to(real)
    capsys.readouterr()
    assert "not a regular file" in _fails(capsys, "whoami")


@pytest.mark.parametrize(
    "argv",
    [
        ["deploy", "rollback", "idcase"],
        ["deploy", "promote", "idcase", "--version", "1"],
        ["tokens", "create", "ds_alice"],
        ["tokens", "revoke", "1"],
        ["tokens", "list"],
        ["run", "credit_default"],
        ["profile", "credit_default"],
        ["experiments", "create", "x", "--source", "raw_sources.credit", "--target", "y"],
    ],
)
def test_privileged_commands_need_a_token_under_a_token_policy(strict, capsys, monkeypatch, argv):
    monkeypatch.setenv("AURORA_USER", "admin_erin")
    err = _fails(capsys, *argv)
    assert "needs your personal token" in err and "identity: trust_env" in err
    assert strict.read_audit(event="access_denied")[-1]["details"]["claimed_user"] == "admin_erin"


def test_the_first_token_is_bootstrapped_once_for_an_admin(strict, capsys, monkeypatch):
    err = _fails(capsys, "tokens", "create", "ds_alice", "--bootstrap")
    assert "not one" in err
    main(["tokens", "create", "admin_erin", "--bootstrap"])
    token = capsys.readouterr().out.strip()
    assert strict.authenticate(token, "test") == "admin_erin"
    created = strict.read_audit(event="token_created")[-1]
    assert created["details"]["auth"] == "bootstrap"
    err = _fails(capsys, "tokens", "create", "admin_erin", "--bootstrap")
    assert "tokens exist" in err
    # With the admin's token, tokens for others are made the ordinary way, expiring by default.
    monkeypatch.setenv("AURORA_TOKEN", token)
    main(["tokens", "create", "validator_bob", "--expires-in-days", "7"])
    assert "expires " in capsys.readouterr().err
    (bob,) = strict.list_tokens("validator_bob")
    assert bob.created_by == "admin_erin" and bob.expires_at is not None


def test_trust_env_actions_are_audited_as_such(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AURORA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", f"sqlite:///{tmp_path / 'home' / 'gov.db'}")
    monkeypatch.setenv("AURORA_POLICY", str(DEFAULT_POLICY))  # the demo's: identity: trust_env
    store = GovernanceStore(
        f"sqlite:///{tmp_path / 'home' / 'gov.db'}", load_policy(DEFAULT_POLICY)
    )
    request_id = _request(store)
    monkeypatch.setenv("AURORA_USER", "validator_bob")
    main(["approvals", "approve", str(request_id), "--comment", "on my laptop"])
    approved = store.read_audit(event="approval_approved")[-1]
    assert approved["actor"] == "validator_bob" and approved["details"]["auth"] == "trust_env"
    main(["whoami"])
    assert "identity: trust_env" in capsys.readouterr().out
    monkeypatch.setenv("AURORA_USER", "mallory")
    assert "unknown identity 'mallory'" in _fails(capsys, "whoami")


def test_the_demo_refuses_a_token_policy_before_doing_anything(strict, capsys):
    err = _fails(capsys, "demo")
    assert "demo identities validator_bob and mrm_carol" in err and "identity: trust_env" in err
    assert strict.read_audit() == []


def test_the_demo_says_it_runs_under_trust_env(tmp_path):
    from rich.console import Console

    from aurora_pipelines.commands.demo import _require_trust_env
    from aurora_pipelines.settings import Settings

    console = Console(record=True, width=200)
    _require_trust_env(Settings(home=tmp_path, policy=DEFAULT_POLICY), console)
    said = console.export_text()
    assert "identity: trust_env" in said and "laptop only" in said and "auth=trust_env" in said
