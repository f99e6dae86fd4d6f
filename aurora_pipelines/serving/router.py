"""Which loaded version answers a record: the registry's routing state, polled in the background.

A poller thread reads `deploy.routing.read_routing` for every served experiment every
`interval` seconds. When the state changes (promotion, rollback, a new canary share) it
first loads every version a role points at into the pool, then swaps the state in one
assignment, so requests never wait for a load and a switch lands within one poll + load.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aurora_pipelines.deploy.routing import (
    CHALLENGER,
    CHAMPION,
    ROLES,
    RoutingState,
    read_routing,
)
from aurora_pipelines.serving.models import ModelPool

log = logging.getLogger(__name__)
FULL_READ_SECONDS = 10.0  # re-read the registry at least this often, changed or not


def sqlite_files(tracking_uri: str) -> list[Path]:
    """The files of a SQLite tracking store (database + WAL), or [] for other stores."""
    if not tracking_uri.startswith("sqlite:///"):
        return []
    db = Path(tracking_uri.removeprefix("sqlite:///"))
    return [db, db.with_name(db.name + "-wal")]


def _stamp(files: list[Path]) -> tuple[int, ...]:
    stamps = []
    for path in files:
        try:
            stat = os.stat(path)
            stamps += [stat.st_mtime_ns, stat.st_size]
        except OSError:
            stamps += [0, 0]
    return tuple(stamps)


def in_challenger_bucket(model_name: str, entity_id: str, share: float) -> bool:
    """Stable across processes and restarts: the same entity always lands in the same bucket."""
    bucket = zlib.crc32(f"{model_name}\x00{entity_id}".encode()) / 0xFFFFFFFF
    return bucket < share


class Router:
    """Routing state per served experiment (registered model name = experiment name)."""

    def __init__(
        self,
        tracking_uri: str,
        experiments: list[str],
        pool: ModelPool,
        *,
        interval: float = 0.5,
        on_change: Callable[[RoutingState, RoutingState], None] | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiments = list(experiments)
        self.pool = pool
        self.interval = interval
        self.on_change = on_change
        self.states: dict[str, RoutingState] = {e: RoutingState(model_name=e) for e in experiments}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # A registry read costs 3-15 ms of GIL-holding Python (SQLAlchemy), which would stall
        # requests every poll; on a SQLite store, skip the read while its files are unchanged.
        self._files = sqlite_files(tracking_uri)
        self._last_stamp: tuple[int, ...] | None = None
        self._last_full = 0.0
        self._client: Any = None

    def _unchanged(self) -> bool:
        if not self._files:
            return False
        stamp = _stamp(self._files)
        fresh = time.monotonic() - self._last_full < FULL_READ_SECONDS
        if stamp == self._last_stamp and fresh:
            return True
        # File times are coarse (a clock tick): a write just after this stamp could carry the
        # same one, so a stamp this recent is not trusted to mean "nothing changed" next time.
        newest = max(stamp[0::2])
        recent = time.time_ns() - newest < 200_000_000
        self._last_stamp = None if recent else stamp
        self._last_full = time.monotonic()
        return False

    def refresh(self) -> None:
        """Read every experiment's routing once; preload, then publish changed states."""
        for experiment in self.experiments:
            try:
                if self._client is None:  # one client: creating one costs far more than a read
                    from mlflow.tracking import MlflowClient

                    self._client = MlflowClient(tracking_uri=self.tracking_uri)
                state = read_routing(self.tracking_uri, experiment, client=self._client)
            except Exception as exc:  # registry unreachable: keep serving the last state
                log.warning("routing of %s unreadable: %s", experiment, exc)
                continue
            previous = self.states.get(experiment)
            if state == previous:
                continue
            versions = {v for v in (state.version_for(r) for r in ROLES) if v}
            for version in sorted(versions):
                self.pool.ensure(experiment, version)
            self.states[experiment] = state
            self.pool.retain(experiment, versions)
            # Loaded models are long-lived: keep the collector from rescanning them (a full
            # collection of this heap takes ~0.3 s, a latency spike for every request waiting).
            gc.freeze()
            log.info("routing of %s: %s", experiment, state)
            if self.on_change is not None and previous is not None:
                self.on_change(previous, state)

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="routing-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if not self._unchanged():
                self.refresh()

    @staticmethod
    def role_for(state: RoutingState, entity_id: str | None, draw: float) -> str:
        """champion, or challenger for the entities in its sticky share.

        `draw` (uniform in [0, 1), one per request) routes records that carry no entity id.
        """
        if state.challenger and state.challenger_share > 0:
            if entity_id is None:
                return CHALLENGER if draw < state.challenger_share else CHAMPION
            if in_challenger_bucket(state.model_name, entity_id, state.challenger_share):
                return CHALLENGER
        return CHAMPION
