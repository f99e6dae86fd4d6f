"""The governance policy file: identities, roles, gates, and errors that name the bad field."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurora_pipelines.errors import GovernanceError, PermissionDenied
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.settings import DEFAULT_POLICY, Settings

VALID = """\
teams:
  - name: risk
users:
  - name: ds_alice
    roles: [data_scientist]
    team: risk
  - name: validator_bob
    roles: [model_validator]
    team: risk
gates:
  staging: {roles: [model_validator]}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_default_policy_defines_the_demo_identities_and_gates() -> None:
    policy = load_policy(DEFAULT_POLICY)
    alice = policy.user("ds_alice")
    assert alice.roles == ["data_scientist"] and alice.team == "risk"
    assert policy.user("validator_bob").roles == ["model_validator"]
    assert policy.user("mrm_carol").roles == ["mrm"]
    assert policy.user("release_manager_dave").roles == ["release_manager"]
    assert policy.user("admin_erin").roles == ["admin"]
    assert set(policy.gates) >= {"staging", "production"}
    assert policy.roles_for_gate("staging") == ["model_validator"]
    assert policy.roles_for_gate("production") == ["mrm"]


def test_approvers_for_gate_are_the_users_holding_an_allowed_role() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert policy.approvers_for_gate("staging") == ["validator_bob"]
    assert policy.approvers_for_gate("production") == ["mrm_carol"]


def test_unknown_identity_is_denied_with_the_valid_names() -> None:
    policy = load_policy(DEFAULT_POLICY)
    with pytest.raises(
        PermissionDenied, match=r"unknown identity 'mallory'.*AURORA_USER.*ds_alice"
    ):
        policy.user("mallory")


def test_unknown_gate_lists_the_defined_gates() -> None:
    policy = load_policy(DEFAULT_POLICY)
    with pytest.raises(GovernanceError, match=r"unknown gate 'canary'.*staging, production"):
        policy.roles_for_gate("canary")


def test_misspelt_role_names_the_user_field_and_the_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        VALID.replace("roles: [model_validator]\n    team", "roles: [validater]\n    team"),
    )
    with pytest.raises(GovernanceError) as err:
        load_policy(path)
    message = str(err.value)
    assert str(path) in message
    assert "users[1] (validator_bob).roles" in message
    assert "validater" in message


def test_unknown_field_is_rejected_not_ignored(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        VALID.replace(
            "    team: risk\n  - name: validator_bob",
            "    team: risk\n    is_admin: true\n  - name: validator_bob",
        ),
    )
    with pytest.raises(GovernanceError, match=r"unknown field `users\[0\] \(ds_alice\)\.is_admin`"):
        load_policy(path)


def test_missing_gates_section_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.split("gates:")[0])
    with pytest.raises(GovernanceError, match=r"missing required field `gates`"):
        load_policy(path)


def test_user_in_undeclared_team_is_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        VALID.replace(
            "    team: risk\n  - name: validator_bob", "    team: fraud\n  - name: validator_bob"
        ),
    )
    with pytest.raises(GovernanceError, match=r"ds_alice.*team `fraud`.*not under `teams`"):
        load_policy(path)


def test_gate_with_unknown_role_is_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        VALID.replace("staging: {roles: [model_validator]}", "staging: {roles: [validator]}"),
    )
    with pytest.raises(GovernanceError, match=r"`gates.staging.roles`.*unknown role"):
        load_policy(path)


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID + "  broken: [unclosed\n")
    with pytest.raises(GovernanceError, match=rf"{path.name} is not valid YAML at line \d+"):
        load_policy(path)


def test_missing_policy_file_points_at_aurora_policy(tmp_path: Path) -> None:
    with pytest.raises(GovernanceError, match="AURORA_POLICY"):
        load_policy(tmp_path / "nope.yaml")


def test_store_from_settings_creates_nothing_until_first_use(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    assert settings.policy == DEFAULT_POLICY
    store = GovernanceStore.from_settings(settings)
    assert not (tmp_path / "home").exists()
    assert store.read_audit() == []
    assert (tmp_path / "home" / "governance.db").is_file()
    store.dispose()
