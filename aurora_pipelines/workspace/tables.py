"""The workspace's tables, in the governance database (same URL, own metadata).

Kept apart from governance/models.py so the workspace can evolve without touching the
approval schema; created on first use like the governance tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

metadata = sa.MetaData()

experiment_versions = sa.Table(
    "experiment_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("spec_yaml", sa.Text, nullable=False),
    sa.Column("diff", sa.Text, nullable=False),
    sa.Column("git_commit", sa.String(64), nullable=True),
    sa.Column("note", sa.String(500), nullable=False, default=""),
    sa.Column("audit_seq", sa.Integer, nullable=False),
    sa.UniqueConstraint("experiment", "version", name="uq_experiment_versions_number"),
)

experiment_roles = sa.Table(
    "experiment_roles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment", sa.String(128), nullable=False),
    sa.Column("user_name", sa.String(128), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("granted_by", sa.String(128), nullable=False),
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("experiment", "user_name", name="uq_experiment_roles_user"),
)

experiment_health = sa.Table(
    "experiment_health",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment", sa.String(128), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("breakdown", sa.Text, nullable=False),  # JSON
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_experiment_health_latest", "experiment", "id"),
)


def create_tables(engine: sa.Engine) -> None:
    """Create the workspace tables if missing (another process may race us)."""
    try:
        metadata.create_all(engine)
    except (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.OperationalError):
        metadata.create_all(engine)
