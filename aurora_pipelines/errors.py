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
