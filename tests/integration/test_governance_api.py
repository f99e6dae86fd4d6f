"""The governance HTTP API over real HTTP: a uvicorn server (`aurora governance serve`) on
127.0.0.1, bearer tokens from `aurora tokens create`, decisions made through it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from aurora_pipelines.cli import main
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.settings import DEFAULT_POLICY
from tests.governance_server import governance_server

D1 = "1" * 64
D2 = "2" * 64


@dataclass
class Api:
    url: str
    store: GovernanceStore
    env: dict[str, str]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture()
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    env = {
        "AURORA_HOME": str(tmp_path / "home"),
        "AURORA_GOVERNANCE_URL": f"sqlite:///{tmp_path / 'home' / 'governance.db'}",
        "AURORA_POLICY": str(DEFAULT_POLICY),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    store = GovernanceStore(env["AURORA_GOVERNANCE_URL"], load_policy(DEFAULT_POLICY))
    store.engine  # noqa: B018 — create the tables before the server starts
    try:
        with governance_server(env) as url:
            yield Api(url, store, env)
    finally:
        store.dispose()


def _token(user: str, capsys: pytest.CaptureFixture[str], monkeypatch, as_user=None) -> str:
    """`aurora tokens create USER` as USER (or `as_user`): the token is the only stdout line."""
    monkeypatch.setenv("AURORA_USER", as_user or user)
    main(["tokens", "create", user])
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aur_")
    assert "shown once" in out.err
    return lines[0]


def test_checker_decides_through_the_api(api: Api, capsys, monkeypatch) -> None:
    request = api.store.request_approval("credit", "staging", "m", 3, D1, "ds_alice")
    bob = _token("validator_bob", capsys, monkeypatch)
    with api.client(bob) as client:
        assert client.get("/api/v1/me").json()["roles"] == ["model_validator"]
        listed = client.get("/api/v1/approvals", params={"status": "pending"}).json()
        assert [r["id"] for r in listed] == [request.id]
        assert listed[0]["approvers"] == ["validator_bob"]
        response = client.post(
            f"/api/v1/approvals/{request.id}/decision",
            json={"decision": "approve", "comment": "validated", "model_version": "3"},
            headers={"X-Correlation-ID": "corr-api-1"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["decided_by"]) == ("approved", "validator_bob")
        assert body["decisions"][0]["role"] == "model_validator"
        assert client.get(f"/api/v1/approvals/{request.id}").json()["status"] == "approved"
    assert api.store.verify_approval("staging", "m", 3, D1).ok
    decided = api.store.read_audit(event="approval_approved")[-1]
    assert (decided["actor"], decided["correlation_id"]) == ("validator_bob", "corr-api-1")
    created = api.store.read_audit(event="token_created")[-1]
    assert created["target"] == "user/validator_bob"
    assert bob not in str(api.store.read_audit())  # the token itself is stored nowhere


def test_openapi_schema_lists_the_endpoints_and_bearer_auth(api: Api) -> None:
    schema = httpx.get(f"{api.url}/openapi.json").json()
    assert {
        "/api/v1/approvals",
        "/api/v1/approvals/{request_id}",
        "/api/v1/approvals/{request_id}/decision",
        "/api/v1/me",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    decision = schema["components"]["schemas"]["DecisionIn"]
    assert decision["additionalProperties"] is False


def test_missing_unknown_and_revoked_tokens_are_refused_and_audited(
    api: Api, capsys, monkeypatch
) -> None:
    request = api.store.request_approval("credit", "staging", "m", 1, D1, "ds_alice")
    path = f"/api/v1/approvals/{request.id}/decision"
    with api.client() as anonymous:
        assert anonymous.post(path, json={"decision": "approve"}).status_code == 401
    with api.client("aur_not-a-real-token") as forged:
        assert forged.get("/api/v1/approvals").status_code == 401
    bob = _token("validator_bob", capsys, monkeypatch)
    token_id = api.store.list_tokens("validator_bob")[-1].id
    main(["tokens", "revoke", str(token_id)])  # as validator_bob, its owner
    assert "revoked by validator_bob" in capsys.readouterr().out
    with api.client(bob) as revoked:
        response = revoked.post(path, json={"decision": "approve"})
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert api.store.get_request(request.id).status == "pending"
    denials = api.store.read_audit(event="access_denied")
    assert [d["actor"] for d in denials] == ["<anonymous>", "<anonymous>", "validator_bob"]
    assert all(d["target"].startswith("api:") for d in denials)
    assert api.store.read_audit(event="token_revoked")[-1]["actor"] == "validator_bob"


def test_a_token_acts_only_as_its_own_user(api: Api, capsys, monkeypatch) -> None:
    request = api.store.request_approval("credit", "staging", "m", 1, D1, "ds_alice")
    alice = _token("ds_alice", capsys, monkeypatch)
    path = f"/api/v1/approvals/{request.id}/decision"
    with api.client(alice) as client:
        # Naming another actor in the body is refused outright, not ignored.
        smuggled = client.post(path, json={"decision": "approve", "actor": "validator_bob"})
        assert smuggled.status_code == 422
        # As herself, the requester can never approve.
        self_approval = client.post(path, json={"decision": "approve"})
        assert self_approval.status_code == 403
        assert "requester cannot approve" in self_approval.json()["detail"]
    # Nobody but the user themself (or an admin) can mint a token for a user.
    monkeypatch.setenv("AURORA_USER", "ds_alice")
    with pytest.raises(SystemExit):
        main(["tokens", "create", "validator_bob"])
    assert "only the user themself or an admin" in capsys.readouterr().err
    assert api.store.list_tokens("validator_bob") == []
    admin_made = _token("validator_bob", capsys, monkeypatch, as_user="admin_erin")
    with api.client(admin_made) as client:
        assert client.get("/api/v1/me").json()["user"] == "validator_bob"
    assert api.store.get_request(request.id).status == "pending"
    assert [d["actor"] for d in api.store.read_audit(event="access_denied")] == [
        "ds_alice",
        "ds_alice",
    ]


def test_wrong_role_other_version_and_changed_digest_are_refused(
    api: Api, capsys, monkeypatch
) -> None:
    request = api.store.request_approval("credit", "staging", "m", 2, D1, "ds_alice")
    path = f"/api/v1/approvals/{request.id}/decision"
    carol = _token("mrm_carol", capsys, monkeypatch)
    bob = _token("validator_bob", capsys, monkeypatch)
    with api.client(carol) as client:
        wrong_role = client.post(path, json={"decision": "approve"})
    assert wrong_role.status_code == 403 and "validator_bob may approve" in wrong_role.text
    with api.client(bob) as client:
        other_version = client.post(path, json={"decision": "approve", "model_version": "1"})
        assert other_version.status_code == 409 and "not version 1" in other_version.text
        changed = client.post(path, json={"decision": "approve", "model_digest": D2})
        assert changed.status_code == 409 and "artifact changed" in changed.text
        assert client.get("/api/v1/approvals/999").status_code == 404
        ok = client.post(path, json={"decision": "approve", "model_digest": D1})
        assert ok.status_code == 200
        replay = client.post(path, json={"decision": "approve", "model_digest": D1})
        assert replay.status_code == 409 and "already approved" in replay.text
    assert len(api.store.read_audit(event="approval_approved")) == 1


def test_sql_looking_comment_is_stored_verbatim_and_harmless(api: Api, capsys, monkeypatch) -> None:
    request = api.store.request_approval("credit", "staging", "m", 1, D1, "ds_alice")
    other = api.store.request_approval("other", "staging", "m2", 1, D2, "ds_alice")
    comment = "x'); DROP TABLE audit_log; UPDATE approval_requests SET status='approved' --"
    bob = _token("validator_bob", capsys, monkeypatch)
    with api.client(bob) as client:
        response = client.post(
            f"/api/v1/approvals/{request.id}/decision",
            json={"decision": "reject", "comment": comment},
        )
        assert response.status_code == 200 and response.json()["comment"] == comment
        injected = client.get("/api/v1/approvals", params={"experiment": "x' OR '1'='1"})
        assert injected.status_code == 200 and injected.json() == []
    assert api.store.get_request(request.id).comment == comment
    assert api.store.get_request(other.id).status == "pending"
    assert api.store.read_audit(event="approval_rejected")[-1]["details"]["comment"] == comment
    assert api.store.verify_audit().ok
