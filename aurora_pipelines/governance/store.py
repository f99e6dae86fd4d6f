"""GovernanceStore: approvals and the audit log behind one object, on any SQLAlchemy URL.

Construction is cheap and touches nothing; the engine, the SQLite file and the tables are
created on first use, so a code location can build the store at import time.
"""

from __future__ import annotations

import threading
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from aurora_pipelines.governance import approvals, audit, candidates, head_anchor, tokens
from aurora_pipelines.governance.approvals import ApprovalRequest, ApprovalVerdict, Decision
from aurora_pipelines.governance.audit import ChainVerification
from aurora_pipelines.governance.candidates import CandidateRecord
from aurora_pipelines.governance.models import create_tables
from aurora_pipelines.governance.policy import Policy, load_policy

if TYPE_CHECKING:
    from aurora_pipelines.settings import Settings

SQLITE_BUSY_TIMEOUT_S = 30


def make_engine(url: str) -> sa.Engine:
    """An engine for `url`; for SQLite, writers serialize (BEGIN IMMEDIATE) and wait when busy."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    # pysqlite's own transaction handling defers BEGIN and never takes the write lock up front,
    # so two processes could both read the audit head. Take over BEGIN (SQLAlchemy's documented
    # recipe) and make each transaction IMMEDIATE: writers queue up instead of forking the chain.
    @event.listens_for(engine, "connect")
    def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


_ENGINES: dict[str, sa.Engine] = {}
_ENGINES_LOCK = threading.Lock()


def shared_engine(url: str) -> sa.Engine:
    """One engine (and connection pool) per URL per process: sensors build a store every tick."""
    with _ENGINES_LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = make_engine(url)
        return _ENGINES[url]


class GovernanceStore:
    """Approval requests, decisions and the hash-chained audit log for one policy and database."""

    def __init__(self, url: str, policy: Policy, audit_head: Path | str | None = None) -> None:
        """`audit_head`: the append-only file that records the audit chain's head on every
        append (default: next to a SQLite database; none for other databases)."""
        self.url = url
        self.policy = policy
        path = Path(audit_head) if audit_head else head_anchor.default_head_path(url)
        self.head_anchor = None if path is None else head_anchor.FileHeadAnchor(path)
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> GovernanceStore:
        """The store at `settings.governance_db_url` with the policy at `settings.policy`."""
        return cls(settings.governance_db_url, load_policy(settings.policy), settings.audit_head)

    @cached_property
    def _engine(self) -> sa.Engine:
        return shared_engine(self.url)

    @property
    def engine(self) -> sa.Engine:
        """The engine, with the tables created on first access."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    create_tables(self._engine)
                    if self.head_anchor is not None:
                        head_anchor.attach(self._engine, self.head_anchor)
                    self._ready = True
        return self._engine

    def dispose(self) -> None:
        """Close pooled connections (the store stays usable)."""
        if "_engine" in self.__dict__:
            self._engine.dispose()

    # Approvals

    def request_approval(
        self,
        experiment: str,
        gate: str,
        model_name: str,
        model_version: str | int,
        model_digest: str,
        requested_by: str,
        correlation_id: str | None = None,
        details: dict[str, Any] | None = None,
        tier: str | None = None,
    ) -> ApprovalRequest:
        """Open (or return the open/approved) request for this exact model target and tier."""
        return approvals.request_approval(
            self.engine,
            self.policy,
            experiment,
            gate,
            model_name,
            model_version,
            model_digest,
            requested_by,
            correlation_id,
            details,
            tier,
        )

    def apply_tier(
        self,
        experiment: str,
        model_name: str,
        tier: str | None,
        actor: str,
        correlation_id: str | None = None,
    ) -> list[int]:
        """Record the model's risk tier; a change is audited and supersedes pending requests
        of another tier (their ids are returned)."""
        return approvals.apply_tier(
            self.engine, experiment, model_name, tier, actor, correlation_id
        )

    def decide(
        self,
        request_id: int,
        decision: Decision,
        actor: str,
        comment: str | None = None,
        current_digest: str | None = None,
        correlation_id: str | None = None,
        expected_version: str | int | None = None,
    ) -> ApprovalRequest:
        """Approve / reject / request changes as `actor`; refusals raise and are audited."""
        return approvals.decide(
            self.engine,
            self.policy,
            request_id,
            decision,
            actor,
            comment,
            current_digest,
            correlation_id,
            expected_version,
        )

    def expire_overdue(self) -> list[int]:
        """Mark pending requests past their gate's `expires_after_hours` as expired."""
        return approvals.expire_overdue(self.engine, self.policy)

    def list_requests(
        self, experiment: str | None = None, status: str | None = None, gate: str | None = None
    ) -> list[ApprovalRequest]:
        """Requests matching the filters, oldest first (overdue ones expired first)."""
        self.expire_overdue()
        return approvals.list_requests(self.engine, experiment, status, gate)

    def get_request(self, request_id: int) -> ApprovalRequest:
        self.expire_overdue()
        return approvals.get_request(self.engine, request_id)

    def expires_at(self, request: ApprovalRequest) -> datetime | None:
        """When `request` expires under this store's policy (None: no time limit)."""
        return approvals.expires_at(self.policy, request)

    def revalidation_due(self, request: ApprovalRequest) -> datetime | None:
        """When an approved `request` is due for revalidation (None: never)."""
        return approvals.revalidation_due(self.policy, request)

    def latest_request(
        self, experiment: str, gate: str, model_name: str, model_version: str | int
    ) -> ApprovalRequest | None:
        return approvals.latest_request(self.engine, experiment, gate, model_name, model_version)

    def verify_approval(
        self,
        gate: str,
        model_name: str,
        model_version: str | int,
        model_digest: str,
        policy: Policy | None = None,
        tier: str | None = None,
    ) -> ApprovalVerdict:
        """Checked against the store's policy unless another (e.g. freshly reloaded) is given;
        with `tier`, only a request filed under that risk tier counts."""
        return approvals.verify_approval(
            self.engine, policy or self.policy, gate, model_name, model_version, model_digest, tier
        )

    def decisions_after(self, cursor_id: int) -> list[ApprovalRequest]:
        """Decisions with `decision_seq` > cursor_id, in decision order (cursor 0 = all)."""
        return approvals.decisions_after(self.engine, cursor_id)

    # Deployments (records live in deploy/records.py; the table is in this database)

    def record_deployment(self, **fields: Any) -> Any:
        """Store one deployment change with its audit row; see deploy.records.record_deployment."""
        from aurora_pipelines.deploy.records import record_deployment

        return record_deployment(self.engine, **fields)

    def list_deployments(
        self,
        model_name: str | None = None,
        environment: str | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        from aurora_pipelines.deploy.records import list_deployments

        return list_deployments(self.engine, model_name, environment, limit)

    # Training candidates (what train/model produced; the staging gate decides on them)

    def record_candidate(
        self,
        *,
        experiment: str,
        model_name: str,
        model_version: str,
        model_digest: str,
        primary_metric: str,
        mlflow_run_id: str,
        created_by: str,
        metric_value: float | None = None,
        dagster_run_id: str | None = None,
        correlation_id: str | None = None,
    ) -> CandidateRecord:
        """Store the version train/model registered, with its audit row, in one transaction."""
        return candidates.record_candidate(
            self.engine,
            experiment=experiment,
            model_name=model_name,
            model_version=model_version,
            model_digest=model_digest,
            primary_metric=primary_metric,
            mlflow_run_id=mlflow_run_id,
            created_by=created_by,
            metric_value=metric_value,
            dagster_run_id=dagster_run_id,
            correlation_id=correlation_id,
        )

    def latest_candidate(
        self, experiment: str, model_name: str | None = None
    ) -> CandidateRecord | None:
        """The newest training candidate of `experiment` (optionally of one model), or None."""
        return candidates.latest_candidate(self.engine, experiment, model_name)

    # API tokens

    def create_token(
        self,
        user: str,
        created_by: str,
        label: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, tokens.TokenInfo]:
        """(token shown once, its info); only its sha256 is stored. Audited."""
        return tokens.create_token(self.engine, self.policy, user, created_by, label, expires_at)

    def revoke_token(self, token_id: int, actor: str) -> tokens.TokenInfo:
        return tokens.revoke_token(self.engine, self.policy, token_id, actor)

    def list_tokens(self, user: str | None = None) -> list[tokens.TokenInfo]:
        return tokens.list_tokens(self.engine, user)

    def authenticate(
        self, token: str | None, target: str, correlation_id: str | None = None
    ) -> str:
        """The user a bearer token stands for; refusals raise Unauthenticated and are audited."""
        return tokens.authenticate(self.engine, self.policy, token, target, correlation_id)

    def authenticate_token(
        self, token: str | None, target: str, correlation_id: str | None = None
    ) -> tokens.TokenInfo:
        """Like `authenticate`, returning the token's info (id, prefix, expiry)."""
        return tokens.authenticate_token(self.engine, self.policy, token, target, correlation_id)

    def token_count(self) -> int:
        return tokens.token_count(self.engine)

    # Audit

    def audit(
        self,
        event: str,
        actor: str,
        target: str,
        details: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """Append one audit row in its own transaction; returns the row (seq, hash, ...)."""
        return audit.append_audit(self.engine, event, actor, target, details, correlation_id)

    def verify_audit(self) -> ChainVerification:
        """The chain walked from seq 1 and checked against the head recorded outside it."""
        return audit.verify_chain(self.engine, self.head_anchor)

    def read_audit(
        self,
        limit: int | None = None,
        *,
        event: str | None = None,
        correlation_id: str | None = None,
        since: str | datetime | None = None,
    ) -> list[dict[str, Any]]:
        return audit.read_audit(
            self.engine, limit, event=event, correlation_id=correlation_id, since=since
        )

    def export_audit(
        self,
        fmt: str,
        *,
        since: str | datetime | None = None,
        correlation_id: str | None = None,
        event: str | None = None,
    ) -> str:
        """The (filtered) audit trail as CSV or JSON, with the whole chain's verification."""
        rows = self.read_audit(event=event, correlation_id=correlation_id, since=since)
        return audit.export_audit(rows, fmt, self.verify_audit())

    def audit_head(self) -> tuple[int, str] | None:
        return audit.audit_head(self.engine)
