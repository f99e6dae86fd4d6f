"""SQLAlchemy tables of the governance store: approval requests, the individual decisions on
them, API tokens, the hash-chained audit log, deployments and training candidates.

Types are portable (no SQLite-only SQL) so the same schema runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

# The statuses live with the snapshots (importable without SQLAlchemy); the table code here and
# its importers keep using them from this module.
from aurora_pipelines.governance.snapshots import (  # noqa: F401
    APPROVED,
    CHANGES_REQUESTED,
    EXPIRED,
    PENDING,
    REJECTED,
    STATUSES,
    SUPERSEDED,
)

metadata = sa.MetaData()

approval_requests = sa.Table(
    "approval_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment", sa.String(200), nullable=False),
    sa.Column("gate", sa.String(64), nullable=False),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("model_digest", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("requested_by", sa.String(100), nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", sa.String(100)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("comment", sa.Text),
    sa.Column("correlation_id", sa.String(200)),
    sa.Column("details", sa.JSON),
    # Audit `seq` of the decision row: a monotonic cursor for the approval sensor.
    sa.Column("decision_seq", sa.Integer, unique=True),
    sa.CheckConstraint(f"status IN {STATUSES!r}", name="ck_approval_requests_status"),
    sa.Index("ix_approval_requests_target", "gate", "model_name", "model_version"),
    sa.Index("ix_approval_requests_experiment", "experiment"),
)

# At most one pending request per gate and model: a concurrent second request fails here and is
# retried, and then finds (or supersedes) the first. Partial indexes exist on SQLite and Postgres
# only, so the index is created only there.
sa.Index(
    "uq_approval_requests_one_pending",
    approval_requests.c.gate,
    approval_requests.c.model_name,
    unique=True,
    sqlite_where=approval_requests.c.status == PENDING,
    postgresql_where=approval_requests.c.status == PENDING,
).ddl_if(dialect=("sqlite", "postgresql"))

# One row per person who decided on a request (every decision, also the final one). UNIQUE
# (request_id, actor) is what makes "nobody decides twice" hold even for racing writers, and
# lets a quorum gate collect one approval per required role from distinct people.
approval_decisions = sa.Table(
    "approval_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "request_id",
        sa.Integer,
        sa.ForeignKey("approval_requests.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("decision", sa.String(32), nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("audit_seq", sa.Integer, nullable=False),
    sa.UniqueConstraint("request_id", "actor", name="uq_approval_decisions_one_per_actor"),
)

# Personal tokens (HTTP API and CLI). Only the sha256 of a token is stored; the token itself is
# shown once, at creation. A revoked or expired token stays (revoked_at / expires_at set) so its
# use is refused and audited.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("label", sa.String(200)),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_by", sa.String(100)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True)),  # NULL: never expires
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # The chain position, assigned as previous seq + 1 inside the writing transaction. UNIQUE on
    # seq and prev_hash makes two writers that read the same previous row fail instead of forking.
    sa.Column("seq", sa.Integer, nullable=False, unique=True),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("target", sa.String(500), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("correlation_id", sa.String(200)),
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_audit_log_event", "event"),
    sa.Index("ix_audit_log_correlation_id", "correlation_id"),
)


# What serves each model in each environment, one row per change (promotion, canary step,
# rollback, shadow); the newest row per model and environment is the current deployment. Written
# in the same transaction as its audit row (see aurora_pipelines/deploy/records.py).
STRATEGIES: tuple[str, ...] = ("blue_green", "canary", "shadow")
deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment", sa.String(200), nullable=False),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("environment", sa.String(32), nullable=False),  # staging | production
    sa.Column("strategy", sa.String(32), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),  # promote, canary_step, rollback, ...
    sa.Column("champion_version", sa.String(64)),
    sa.Column("challenger_version", sa.String(64)),
    sa.Column("fallback_version", sa.String(64)),
    sa.Column("shadow_version", sa.String(64)),
    sa.Column("challenger_share", sa.Float, nullable=False),
    sa.Column("bundle_uri", sa.String(1000)),
    sa.Column("deployed_by", sa.String(100), nullable=False),
    sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("correlation_id", sa.String(200)),
    sa.Column("reason", sa.Text),
    sa.Column("details", sa.JSON),
    sa.Column("audit_seq", sa.Integer, nullable=False, unique=True),
    sa.CheckConstraint(f"strategy IN {STRATEGIES!r}", name="ck_deployments_strategy"),
    sa.CheckConstraint(
        "challenger_share >= 0 AND challenger_share <= 1", name="ck_deployments_share"
    ),
    sa.Index("ix_deployments_model", "model_name", "environment", "id"),
)


# What train/model produced, one row per registered version: the staging gate decides on the
# newest row of its experiment, never on "the newest registered version" (which anything can
# create). Written in the same transaction as its audit row (governance/candidates.py).
training_candidates = sa.Table(
    "training_candidates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment", sa.String(200), nullable=False),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("model_digest", sa.String(80), nullable=False),
    sa.Column("primary_metric", sa.String(64), nullable=False),
    sa.Column("metric_value", sa.Float),
    sa.Column("mlflow_run_id", sa.String(64), nullable=False),
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Column("correlation_id", sa.String(200)),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("audit_seq", sa.Integer, nullable=False, unique=True),
    sa.Index("ix_training_candidates_experiment", "experiment", "model_name", "id"),
)


def create_tables(engine: sa.Engine) -> None:
    """Create the governance tables if missing (safe when several processes start at once)."""
    try:
        metadata.create_all(engine)
    except (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.OperationalError):
        # Another process created them between our existence check and CREATE; check again.
        metadata.create_all(engine)
    add_missing_columns(engine)


def add_missing_columns(engine: sa.Engine) -> None:
    """Add nullable columns that newer code defines to tables an older version created.

    `create_all` never alters an existing table; a database made before a column existed (e.g.
    `api_tokens.expires_at`) would otherwise fail on every query naming it.
    """
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(
                        f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'
                    )
            except (sa_exc.ProgrammingError, sa_exc.OperationalError):
                # Another process added it first.
                added = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
                if column.name not in added:
                    raise
