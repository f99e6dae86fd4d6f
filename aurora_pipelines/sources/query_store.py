"""Query history, favourites and saved named queries, in the governance database.

History is per user (what they ran, when, its hash and row count); a favourite is a starred
history entry. A saved query is a named, parameterised template owned by one user and
optionally shared with a team: its owner and that team's members may run it, and an
experiment of that team may use it as its source (`kind: saved_query`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from aurora_pipelines.errors import GovernanceError, NotFound, PermissionDenied

metadata = sa.MetaData()

query_history = sa.Table(
    "query_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_name", sa.String(200), nullable=False, index=True),
    sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sql", sa.Text, nullable=False),
    sa.Column("sql_hash", sa.String(64), nullable=False),
    sa.Column("tables", sa.Text, nullable=False),  # JSON list
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("saved_query", sa.String(200), nullable=True),
    sa.Column("favourite", sa.Boolean, nullable=False, default=False),
)

saved_queries = sa.Table(
    "saved_queries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("team", sa.String(200), nullable=True),  # shared with this team, else private
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("sql", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON {name: type}
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    user: str
    ran_at: datetime
    sql: str
    sql_hash: str
    tables: list[str]
    row_count: int
    saved_query: str | None
    favourite: bool

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "ran_at": self.ran_at.isoformat()}


@dataclass(frozen=True)
class SavedQuery:
    name: str
    owner: str
    team: str | None
    description: str
    sql: str
    params: dict[str, str]
    created_at: datetime

    def readable_by(self, user: str, teams: list[str]) -> bool:
        return self.owner == user or (self.team is not None and self.team in teams)

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class QueryStore:
    """History and saved queries on one SQLAlchemy engine (tables created on first use)."""

    def __init__(self, engine: sa.Engine) -> None:
        metadata.create_all(engine)
        self.engine = engine

    # History

    def record(
        self,
        user: str,
        sql: str,
        sql_hash: str,
        tables: list[str],
        row_count: int,
        saved_query: str | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                query_history.insert().values(
                    user_name=user,
                    ran_at=datetime.now(UTC),
                    sql=sql,
                    sql_hash=sql_hash,
                    tables=json.dumps(tables),
                    row_count=row_count,
                    saved_query=saved_query,
                    favourite=False,
                )
            )
            return int(result.inserted_primary_key[0])

    def history(
        self, user: str, last: int = 20, search: str | None = None, favourites: bool = False
    ) -> list[HistoryEntry]:
        """The user's latest queries, newest first; `search` matches the SQL text."""
        q = query_history.select().where(query_history.c.user_name == user)
        if search:
            # The text is matched literally: `%` and `_` are escaped, not wildcards.
            literal = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(query_history.c.sql.ilike(f"%{literal}%", escape="\\"))
        if favourites:
            q = q.where(query_history.c.favourite.is_(True))
        q = q.order_by(query_history.c.id.desc()).limit(max(1, last))
        with self.engine.connect() as conn:
            return [
                HistoryEntry(
                    r.id,
                    r.user_name,
                    _aware(r.ran_at),
                    r.sql,
                    r.sql_hash,
                    json.loads(r.tables),
                    r.row_count,
                    r.saved_query,
                    bool(r.favourite),
                )
                for r in conn.execute(q)
            ]

    def set_favourite(self, user: str, entry_id: int, favourite: bool = True) -> None:
        """Star (or unstar) one of the user's own history entries."""
        with self.engine.begin() as conn:
            done = conn.execute(
                query_history.update()
                .where(query_history.c.id == entry_id, query_history.c.user_name == user)
                .values(favourite=favourite)
            )
        if not done.rowcount:
            raise NotFound(
                f"history entry {entry_id} is not one of {user}'s queries; "
                "`aurora query history` lists them"
            )

    # Saved queries

    def save(
        self,
        name: str,
        owner: str,
        sql: str,
        params: dict[str, str],
        team: str | None = None,
        description: str = "",
    ) -> SavedQuery:
        with self.engine.begin() as conn:
            taken = conn.execute(
                sa.select(saved_queries.c.owner).where(saved_queries.c.name == name)
            ).first()
            if taken is not None:
                raise GovernanceError(
                    f"a saved query named '{name}' already exists (owner {taken.owner}); "
                    "choose another name"
                )
            conn.execute(
                saved_queries.insert().values(
                    name=name,
                    owner=owner,
                    team=team,
                    description=description,
                    sql=sql,
                    params=json.dumps(params),
                    created_at=datetime.now(UTC),
                )
            )
        return self.get(name)

    def get(self, name: str) -> SavedQuery:
        with self.engine.connect() as conn:
            row = conn.execute(saved_queries.select().where(saved_queries.c.name == name)).first()
        if row is None:
            raise NotFound(
                f"no saved query named '{name}'; `aurora query saved` lists those you may run"
            )
        return SavedQuery(
            row.name,
            row.owner,
            row.team,
            row.description,
            row.sql,
            json.loads(row.params),
            _aware(row.created_at),
        )

    def get_readable(self, name: str, user: str, teams: list[str]) -> SavedQuery:
        """The saved query if `user` owns it or it is shared with one of `teams`."""
        saved = self.get(name)
        if not saved.readable_by(user, teams):
            raise PermissionDenied(
                f"saved query '{name}' belongs to {saved.owner}"
                + (f" and is shared with team '{saved.team}'" if saved.team else "")
                + f", not with {user}; ask its owner to share it with your team"
            )
        return saved

    def list_readable(self, user: str, teams: list[str]) -> list[SavedQuery]:
        with self.engine.connect() as conn:
            rows = conn.execute(saved_queries.select().order_by(saved_queries.c.name)).all()
        found = [
            SavedQuery(
                r.name,
                r.owner,
                r.team,
                r.description,
                r.sql,
                json.loads(r.params),
                _aware(r.created_at),
            )
            for r in rows
        ]
        return [s for s in found if s.readable_by(user, teams)]
