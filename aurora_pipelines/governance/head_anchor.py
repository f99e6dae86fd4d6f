"""The audit chain's head, recorded outside the database on every append.

A hash chain shows an edited or deleted row in the middle, but not that its newest rows were
cut off: the shortened chain is still a valid chain. So each committed append also writes
`(seq, hash)` of the new head to an append-only file. `aurora audit verify` then compares: a
database that ends before the recorded head was truncated; one whose row at the recorded seq
has another hash was rewritten.

The file only helps if whoever can change the database cannot change it: point
AURORA_AUDIT_HEAD at a location with other permissions (another host's mount, a file with
`chattr +a`). By default it sits next to the SQLite database, which catches accidents and
careless tampering, not a determined administrator of that machine.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from aurora_pipelines.errors import GovernanceError

# The newest heads are at the end; concurrent writers may append a few lines out of order.
TAIL_BYTES = 16_384


class HeadAnchor(ABC):
    """Somewhere outside the database that keeps the audit chain's newest (seq, hash)."""

    @abstractmethod
    def record(self, seq: int, row_hash: str) -> None:
        """Append the head after a committed audit append."""

    @abstractmethod
    def latest(self) -> tuple[int, str] | None:
        """The highest recorded (seq, hash), or None if nothing was recorded yet."""

    @abstractmethod
    def describe(self) -> str:
        """Where the head is kept, for messages."""


class FileHeadAnchor(HeadAnchor):
    """One JSON line per append (`{"seq", "hash", "ts"}`), opened O_APPEND so writes from
    several processes never overwrite each other."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def record(self, seq: int, row_hash: str) -> None:
        line = json.dumps(
            {"seq": seq, "hash": row_hash, "ts": datetime.now(UTC).isoformat(timespec="seconds")}
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))  # one write: one whole line
            finally:
                os.close(fd)
        except OSError as exc:
            raise GovernanceError(
                f"audit row seq {seq} was committed but its head could not be recorded in "
                f"{self.path} ({exc.strerror}); make the file writable or point "
                "AURORA_AUDIT_HEAD at a writable location"
            ) from exc

    def latest(self) -> tuple[int, str] | None:
        try:
            with self.path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - TAIL_BYTES))
                tail = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return None
        heads: list[tuple[int, str]] = []
        # The first line of a tail may be cut in half; a line that does not parse is skipped.
        for line in tail.splitlines():
            try:
                entry = json.loads(line)
                heads.append((int(entry["seq"]), str(entry["hash"])))
            except (ValueError, KeyError, TypeError):
                continue
        return max(heads) if heads else None

    def describe(self) -> str:
        return str(self.path)


def default_head_path(url: str) -> Path | None:
    """Next to a SQLite database file; None for other databases (set AURORA_AUDIT_HEAD)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = Path(parsed.database).expanduser()
    return database.with_name(database.name + ".audit-head")


_ANCHORS: weakref.WeakKeyDictionary[sa.Engine, list[HeadAnchor]] = weakref.WeakKeyDictionary()
_ANCHORS_LOCK = threading.Lock()


def attach(engine: sa.Engine, anchor: HeadAnchor) -> None:
    """Record the head in `anchor` after every audit append committed through `engine`."""
    with _ANCHORS_LOCK:
        anchors = _ANCHORS.setdefault(engine, [])
        if all(a.describe() != anchor.describe() for a in anchors):
            anchors.append(anchor)


def anchors_for(engine: sa.Engine) -> list[HeadAnchor]:
    with _ANCHORS_LOCK:
        return list(_ANCHORS.get(engine, []))


def record_committed(engine: sa.Engine, heads: list[tuple[int, str]]) -> None:
    """After a commit: write the newest of the heads that transaction appended."""
    if not heads:
        return
    seq, row_hash = max(heads)
    for anchor in anchors_for(engine):
        anchor.record(seq, row_hash)
