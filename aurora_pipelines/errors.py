"""Errors a user can cause. Each carries what is wrong and how to fix it.

The CLI prints them as one line (`error: ...`) and exits non-zero; tracebacks only with --debug.
"""

from __future__ import annotations


class AuroraError(Exception):
    """Base class for user-facing errors: the message names the problem and the fix."""


class SpecError(AuroraError):
    """An experiment spec is malformed or refers to something that does not exist."""


class SourceError(AuroraError):
    """A data source cannot be read, or lacks a column the spec needs."""


class DataError(AuroraError):
    """The data cannot be used as asked (e.g. a single-class target)."""


class GovernanceError(AuroraError):
    """An approval or governance action is not allowed."""


class PermissionDenied(GovernanceError):
    """The caller's identity or role does not allow the action."""


class NotFound(AuroraError):
    """A named object (experiment, approval request, model version) does not exist."""


class IntegrityError(AuroraError):
    """Stored state was tampered with or no longer matches (audit chain, artifact digest)."""


class ServiceUnavailable(AuroraError):
    """An external service (the MLflow tracking server, S3) cannot be reached. Unlike other
    user-facing errors it is worth retrying: the step's retry policy applies."""

    retryable = True


class StorageFull(AuroraError):
    """A file system Aurora writes to (AURORA_HOME, the lake) has no space left."""


NO_SPACE_MARKERS = ("No space left on device", "os error 28", "Disk quota exceeded")


def is_no_space(exc: BaseException) -> bool:
    """Whether `exc` is a full disk: an OSError ENOSPC/EDQUOT, or delta-rs' and SQLite's own
    errors, which carry the OS message only in their text."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return any(marker in text for marker in NO_SPACE_MARKERS) or "database or disk is full" in text


def storage_full(path: object, what: str) -> StorageFull:
    """The StorageFull error for a failed write of `what` at `path`."""
    return StorageFull(
        f"no space left on the device holding {path} (writing {what}); nothing was written: "
        "free space there, or set AURORA_HOME to a directory on a larger disk, then rerun"
    )
