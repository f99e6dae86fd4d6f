"""Team access to governed data: read grants, PII columns, and the audited read path.

The rules live in the governance policy file under `data_access:` (parsed here, so the
approvals policy model stays small):

```yaml
data_access:
  grants:                     # team -> resources it may read (shell-style patterns)
    risk: ["raw_sources.*", "file:*"]
  pii:                        # columns no profile, sample or model may see in clear
    - {table: "*", column: email, action: drop}
    - {table: "raw_sources.*", column: "*phone*", action: mask}
```

Resource names: a catalog table is `database.table` (every table a user query reads counts on
its own), a JDBC table `jdbc:<database>.<table>`, a file or Delta directory `file:<absolute
path>`. Access is denied unless a grant matches, and a policy without `data_access` grants
nothing. Every refusal is written to the audit log (`access_denied`) before it is raised.

PII is applied where the data is read, before anything is written to the lake: `drop` removes
the column, `mask` replaces each value by its HMAC-SHA256 hex digest under a secret key (nulls
stay null), which keeps joins and distinct counts but not the value; without the key, nobody
can confirm a guessed value (an unkeyed hash of a phone number or national id is reversed by
hashing every candidate). The key is `AURORA_PII_KEY`, else a random one created once in
`$AURORA_HOME/pii.key` (mode 0600). A user query runs against masked views of the
tables it names, so it cannot select a PII column around the policy.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aurora_pipelines.errors import GovernanceError, PermissionDenied
from aurora_pipelines.sources.sql_guard import QueryRefused, guard_query, replace_tables
from aurora_pipelines.specs import SourceSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from aurora_pipelines.settings import Settings

AUDIT_EVENT = "access_denied"
PiiAction = Literal["drop", "mask"]
AuditFn = Callable[..., Any]


class AccessDenied(PermissionDenied):
    """The team may not read this source (or the query is not allowed); always audited."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PiiRule(_Strict):
    table: str = Field(default="*", description="Resource pattern, e.g. raw_sources.*")
    column: str = Field(description="Column name pattern (case-insensitive).")
    action: PiiAction = "mask"


class DataAccessPolicy(_Strict):
    grants: dict[str, list[str]] = Field(default_factory=dict)
    pii: list[PiiRule] = Field(default_factory=list)

    def may_read(self, team: str, resource: str) -> bool:
        return any(fnmatch.fnmatchcase(resource, p.lower()) for p in self.grants.get(team, []))

    def pii_actions(self, resource: str, columns: list[str]) -> dict[str, PiiAction]:
        """Column -> action for `resource`; the first matching rule wins."""
        actions: dict[str, PiiAction] = {}
        for column in columns:
            for rule in self.pii:
                if fnmatch.fnmatchcase(resource, rule.table.lower()) and fnmatch.fnmatchcase(
                    column.lower(), rule.column.lower()
                ):
                    actions[column] = rule.action
                    break
        return actions


def load_data_access(path: Path) -> DataAccessPolicy:
    """The `data_access` section of the policy file; GovernanceError names each bad field."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise GovernanceError(f"governance policy {path} cannot be read: {exc}") from None
    section = raw.get("data_access") if isinstance(raw, dict) else None
    if section is None:
        return DataAccessPolicy()
    try:
        policy = DataAccessPolicy.model_validate(section)
    except ValidationError as exc:
        problems = "; ".join(
            f"`data_access.{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}" for e in exc.errors()
        )
        raise GovernanceError(f"governance policy {path}: {problems}") from None
    teams = {t.get("name") for t in raw.get("teams", []) if isinstance(t, dict)}
    unknown = sorted(set(policy.grants) - teams)
    if unknown:
        raise GovernanceError(
            f"governance policy {path}: `data_access.grants` names unknown team(s) "
            f"{', '.join(unknown)} (teams: {', '.join(sorted(t for t in teams if t))})"
        )
    return policy


def jdbc_database(url: str) -> str:
    """The database name of a JDBC URL (`jdbc:postgresql://host:5432/sales` -> `sales`)."""
    parsed = urlparse(url.removeprefix("jdbc:"))
    return parsed.path.strip("/").split("/")[0] or parsed.netloc


def source_resources(source: SourceSpec) -> list[str]:
    """The resource names reading `source` touches (QueryRefused for a bad user query)."""
    if source.kind == "table":
        return [(source.table or "").lower()]
    if source.kind == "query":
        return guard_query(source.sql or "").tables
    if source.kind == "jdbc":
        return [f"jdbc:{jdbc_database(source.url or '')}.{source.table}".lower()]
    return [f"file:{Path(source.path or '').expanduser().resolve()}"]


def pii_key(settings: Settings) -> str:
    """The PII masking key: AURORA_PII_KEY, else one random key kept in AURORA_HOME."""
    if settings.pii_key:
        return settings.pii_key
    path = settings.root / "pii.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: two processes starting at once must not end up with two keys
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return path.read_text().strip()


def _hmac_sha256(col: Any, key: str) -> Any:
    """HMAC-SHA256 (RFC 2104) of a string column as a Spark expression, lower-case hex.

    Spark has no HMAC function; the two padded keys are constants, so it is two `sha2` calls.
    """
    from pyspark.sql import functions as F

    block = 64  # SHA-256 block size in bytes
    k = key.encode("utf-8")
    k = hashlib.sha256(k).digest() if len(k) > block else k
    k = k.ljust(block, b"\0")
    inner_pad, outer_pad = bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), F.encode(col, "UTF-8")), 256))
    return F.sha2(F.concat(F.lit(outer_pad), inner), 256)


def apply_pii(df: DataFrame, actions: dict[str, PiiAction], key: str | None = None) -> DataFrame:
    """Drop or mask the PII columns of `df` (names as in `actions`).

    Masking is HMAC-SHA256 under `key`; without a key (tests of old callers) a plain SHA-256.
    """
    from pyspark.sql import functions as F

    def mask(c: str) -> Any:
        value = F.col(f"`{c}`").cast("string")
        return (_hmac_sha256(value, key) if key else F.sha2(value, 256)).alias(c)

    dropped = [c for c, a in actions.items() if a == "drop"]
    masked = {c for c, a in actions.items() if a == "mask"}
    columns = [mask(c) if c in masked else F.col(f"`{c}`") for c in df.columns if c not in dropped]
    return df.select(*columns) if actions else df


def _check_member(
    store: Any, caller: str, team: str, experiment: str | None, policy_path: str
) -> None:
    """AccessDenied (audited) unless `caller` is a policy identity in `team` or an admin."""
    known = {u.name: u for u in store.policy.users}
    user = known.get(caller)
    if user is not None and (user.team == team or "admin" in user.roles):
        return
    reason = (
        f"unknown identity '{caller}'"
        if user is None
        else f"'{caller}' is in team '{user.team}', not '{team}'"
    )
    store.audit(
        AUDIT_EVENT,
        caller,
        f"team:{team}",
        {"team": team, "reason": reason, "experiment": experiment},
    )
    raise AccessDenied(
        f"{reason}, so it may not read data as team '{team}'"
        + (f" (experiment '{experiment}')" if experiment else "")
        + f"; set AURORA_USER to a member of '{team}', or ask an admin to change the team "
        f"in {policy_path}"
    )


SavedQueryLookup = Callable[[str], Any]  # name -> query_store.SavedQuery (NotFound if none)


@dataclass(frozen=True)
class GovernedFrame:
    df: DataFrame
    resources: list[str]
    pii: dict[str, PiiAction] = field(default_factory=dict)


@dataclass
class SourceAccess:
    """Reads sources as one team: grants checked, PII applied, refusals audited."""

    policy: DataAccessPolicy
    team: str
    actor: str
    audit: AuditFn | None = None
    experiment: str | None = None
    policy_path: str = "the governance policy"
    pii_key: str | None = None
    saved_queries: SavedQueryLookup | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, team: str, actor: str | None = None, experiment: str | None = None
    ) -> SourceAccess:
        """Access as `team`. A caller named by AURORA_USER must be a member of that team (or an
        admin): the spec's `team` alone is not trusted. Without AURORA_USER the pipeline reads
        as the team itself (`team:<name>`)."""
        from aurora_pipelines.governance.store import GovernanceStore
        from aurora_pipelines.sources.query_store import QueryStore

        store = GovernanceStore.from_settings(settings)
        if settings.user and actor is None:
            _check_member(store, settings.user, team, experiment, str(settings.policy))
        return cls(
            saved_queries=lambda name: QueryStore(store.engine).get(name),
            policy=load_data_access(settings.policy),
            team=team,
            actor=actor or settings.user or f"team:{team}",
            audit=store.audit,
            experiment=experiment,
            policy_path=str(settings.policy),
            pii_key=pii_key(settings),
        )

    def _record(self, resource: str, reason: str, source: SourceSpec) -> None:
        if self.audit is not None:
            self.audit(
                AUDIT_EVENT,
                self.actor,
                resource,
                {
                    "team": self.team,
                    "source": source.display,
                    "reason": reason,
                    "experiment": self.experiment,
                },
            )

    def resolve_saved(self, source: SourceSpec) -> tuple[SourceSpec, dict[str, Any]]:
        """A `saved_query` source as the query it stands for and its bound parameter values.

        The saved query must be shared with this team (or be the actor's own), and the spec's
        `params` must fit its declared types; both refusals name the fix."""
        from aurora_pipelines.sources.query_params import (
            bind_values,
            guard_template,
            to_bind_markers,
        )

        if source.kind != "saved_query":
            return source, {}
        if self.saved_queries is None:
            raise GovernanceError("saved queries are not available to this reader")
        saved = self.saved_queries(source.name or "")
        if saved.team != self.team and saved.owner != self.actor:
            reason = (
                f"saved query '{saved.name}' is not shared with team '{self.team}' "
                f"(owner {saved.owner}, shared with {saved.team or 'nobody'})"
            )
            self._record(f"saved_query:{saved.name}", reason, source)
            raise AccessDenied(f"{reason}; ask its owner to share it with team '{self.team}'")
        values = bind_values(saved.params, dict(source.params))
        guard_template(saved.sql, saved.params)
        return SourceSpec(kind="query", sql=to_bind_markers(saved.sql)), values

    def authorize(self, source: SourceSpec) -> list[str]:
        """The resources `source` reads, if the team may read all of them; else AccessDenied."""
        source, _ = self.resolve_saved(source)
        try:
            resources = source_resources(source)
        except QueryRefused as exc:
            self._record("query", str(exc), source)
            raise
        denied = [r for r in resources if not self.policy.may_read(self.team, r)]
        for resource in denied:
            self._record(resource, f"no grant for team '{self.team}'", source)
        if denied:
            raise AccessDenied(
                f"team '{self.team}' may not read {', '.join(denied)} (source "
                f"{source.display}); ask an admin to add a grant under "
                f"`data_access.grants.{self.team}` in {self.policy_path}"
            )
        return resources

    def read(self, spark: SparkSession, source: SourceSpec) -> GovernedFrame:
        """The source's rows as this team may see them (PII dropped or masked)."""
        from aurora_pipelines.sources.readers import read_source, read_table

        source, values = self.resolve_saved(source)
        resources = self.authorize(source)
        if source.kind != "query":
            df = read_source(spark, source)
            actions = self.policy.pii_actions(resources[0], df.columns)
            return GovernedFrame(apply_pii(df, actions, self.pii_key), resources, actions)
        guarded = guard_query(source.sql or "")
        views: dict[str, str] = {}
        pii: dict[str, PiiAction] = {}
        for table in guarded.tables:
            frame = read_table(spark, table)
            actions = self.policy.pii_actions(table, frame.columns)
            pii.update({f"{table}.{c}": a for c, a in actions.items()})
            views[table] = "aurora_q_" + hashlib.sha1(table.encode()).hexdigest()[:12]
            apply_pii(frame, actions, self.pii_key).createOrReplaceTempView(views[table])
        try:
            # Saved-query parameters are bound by Spark (`:name` markers), never pasted in.
            df = spark.sql(replace_tables(guarded, views), args=values or None)
        except Exception as exc:  # analysis errors: unknown column, type mismatch
            message = str(exc).strip().splitlines()[0][:300]
            raise QueryRefused(f"the query does not run: {message}; fix `source.sql`") from None
        return GovernedFrame(df, resources, pii)
