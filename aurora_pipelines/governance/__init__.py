"""Governance: roles policy, maker-checker approval requests, hash-chained audit log.

Use `GovernanceStore.from_settings(settings)` for everything; the modules underneath take an
engine and a policy explicitly.

The names below are imported on first use (PEP 562): importing one light submodule (the
snapshots, the SQLite reads of `aurora approvals list`) must not import SQLAlchemy with the store.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurora_pipelines.governance.approvals import ApprovalRequest, ApprovalVerdict
    from aurora_pipelines.governance.audit import ChainVerification, append_audit, verify_chain
    from aurora_pipelines.governance.policy import ROLES, Policy, User, load_policy
    from aurora_pipelines.governance.store import GovernanceStore, make_engine

_EXPORTS = {
    "ApprovalRequest": "approvals",
    "ApprovalVerdict": "approvals",
    "ChainVerification": "audit",
    "append_audit": "audit",
    "verify_chain": "audit",
    "ROLES": "policy",
    "Policy": "policy",
    "User": "policy",
    "load_policy": "policy",
    "GovernanceStore": "store",
    "make_engine": "store",
}

__all__ = [
    "ROLES",
    "ApprovalRequest",
    "ApprovalVerdict",
    "ChainVerification",
    "GovernanceStore",
    "Policy",
    "User",
    "append_audit",
    "load_policy",
    "make_engine",
    "verify_chain",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
