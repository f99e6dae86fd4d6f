"""Launch, follow and cancel an experiment's Dagster runs, for the CLI and the platform API.

A run is launched through the Dagster webserver the project serves (`make ui`, or
AURORA_DAGSTER_URL), with its GraphQL client: the webserver's run launcher starts the run
from the code location, so the run is Dagster's own (in the UI, with its logs, cancellable
from there too), not something executed beside it. Status and lists are read from the
instance under AURORA_HOME, so they work with the webserver down.

Who may: a member of the experiment's team, or an admin (launch and cancel, each audited as
`run_launched` / `run_canceled`); anyone with a token may read status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from aurora_pipelines.errors import AuroraError, GovernanceError, NotFound, PermissionDenied
from aurora_pipelines.specs import ExperimentSpec, find_spec

if TYPE_CHECKING:
    import dagster as dg

    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.settings import Settings

LOCATION_NAME = "aurora"  # workspace.yaml
LAUNCHABLE_JOBS = ("lifecycle", "refresh_sources", "retrain", "score_and_monitor")
TAG_USER = "aurora/launched_by"
TAG_EXPERIMENT = "aurora/experiment"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


class DagsterUnavailable(AuroraError):
    """The Dagster webserver that launches runs cannot be reached or refused the launch."""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    job: str
    experiment: str | None
    status: str
    launched_by: str | None
    started_at: str | None
    ended_at: str | None
    logs_url: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp else None


def _experiment_of(job_name: str) -> str | None:
    return job_name.split("__", 1)[0] if "__" in job_name else None


@dataclass
class RunControl:
    settings: Settings
    store: GovernanceStore

    @property
    def dagster_url(self) -> str:
        return self.settings.dagster_url.rstrip("/")

    def _instance(self) -> dg.DagsterInstance:
        from aurora_pipelines.defs.runner import instance_for

        return instance_for(self.settings)

    def _client(self) -> Any:
        from dagster_graphql import DagsterGraphQLClient

        url = urlparse(self.dagster_url)
        return DagsterGraphQLClient(
            url.hostname or "127.0.0.1",
            port_number=url.port,
            use_https=url.scheme == "https",
            timeout=60,
            path_prefix=url.path,
        )

    def _info(self, record: Any) -> RunInfo:
        run = record.dagster_run
        return RunInfo(
            run_id=run.run_id,
            job=run.job_name,
            experiment=run.tags.get(TAG_EXPERIMENT) or _experiment_of(run.job_name),
            status=run.status.value,
            launched_by=run.tags.get(TAG_USER),
            started_at=_iso(record.start_time),
            ended_at=_iso(record.end_time),
            logs_url=f"{self.dagster_url}/runs/{run.run_id}",
        )

    def _authorize(self, user: str, spec: ExperimentSpec, action: str) -> None:
        member = next((u for u in self.store.policy.users if u.name == user), None)
        if member is not None and (member.team == spec.team or "admin" in member.roles):
            return
        reason = (
            f"'{user}' is not a policy identity"
            if member is None
            else f"'{user}' is in team '{member.team}', not '{spec.team}'"
        )
        self.store.audit("access_denied", user, f"experiment:{spec.name}", {"action": action})
        raise PermissionDenied(
            f"{reason}, so it may not {action} runs of experiment '{spec.name}'; ask a member "
            f"of team '{spec.team}' or an admin"
        )

    def _unavailable(self, exc: Exception, doing: str) -> DagsterUnavailable:
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        return DagsterUnavailable(
            f"could not {doing} through the Dagster webserver at {self.dagster_url}: {text}; "
            "start it with `make ui` or point AURORA_DAGSTER_URL at it"
        )

    def launch(self, user: str, experiment: str, job: str = "lifecycle") -> RunInfo:
        """Launch the experiment's job as `user`; the run id and its logs link come back."""
        if job not in LAUNCHABLE_JOBS:
            raise AuroraError(
                f"job '{job}' cannot be launched here; use one of {', '.join(LAUNCHABLE_JOBS)} "
                "(promotions run when their approval is decided)"
            )
        spec = find_spec(self.settings.experiments_dir, experiment)
        self._authorize(user, spec, "launch")
        job_name = f"{spec.name}__{job}"
        try:
            run_id = self._client().submit_job_execution(
                job_name,
                repository_location_name=LOCATION_NAME,
                tags={TAG_USER: user, TAG_EXPERIMENT: spec.name},
            )
        except Exception as exc:  # transport errors and GraphQL errors alike
            if "JobNotFoundError" in str(exc):
                raise NotFound(
                    f"the Dagster webserver at {self.dagster_url} has no job '{job_name}': its "
                    "code location did not load this experiment (the UI shows the load error)"
                ) from None
            raise self._unavailable(exc, f"launch {job_name}") from None
        self.store.audit(
            "run_launched", user, f"run:{run_id}", {"experiment": spec.name, "job": job_name}
        )
        return self.status(run_id)

    def status(self, run_id: str) -> RunInfo:
        record = next(iter(self._records(run_ids=[run_id])), None)
        if record is None:
            raise NotFound(f"no Dagster run '{run_id}'; `aurora runs list` shows the latest")
        return self._info(record)

    def _records(self, limit: int | None = None, **filters: Any) -> list[Any]:
        import dagster as dg

        return list(self._instance().get_run_records(filters=dg.RunsFilter(**filters), limit=limit))

    def list_runs(self, experiment: str | None = None, limit: int = 20) -> list[RunInfo]:
        """The newest runs, of one experiment's jobs or of all."""
        records = self._records(limit=None if experiment else limit)
        infos = [self._info(r) for r in records]
        if experiment:
            infos = [i for i in infos if i.experiment == experiment]
        return infos[:limit]

    def cancel(self, user: str, run_id: str) -> RunInfo:
        """Ask Dagster to terminate a queued or running run."""
        info = self.status(run_id)
        if info.experiment is None:
            raise NotFound(f"run '{run_id}' ({info.job}) is not an experiment's run")
        spec = find_spec(self.settings.experiments_dir, info.experiment)
        self._authorize(user, spec, "cancel")
        if info.status in FINISHED:
            raise GovernanceError(
                f"run '{run_id}' has already finished ({info.status}); nothing to cancel"
            )
        try:
            self._client().terminate_run(run_id)
        except Exception as exc:
            raise self._unavailable(exc, f"cancel run {run_id}") from None
        self.store.audit("run_canceled", user, f"run:{run_id}", {"job": info.job})
        return self.status(run_id)


def run_control_for(settings: Settings) -> RunControl:
    from aurora_pipelines.governance.store import GovernanceStore

    return RunControl(settings, GovernanceStore.from_settings(settings))
