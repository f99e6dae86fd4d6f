"""Governance: roles policy, maker-checker approval requests, hash-chained audit log.

Use `GovernanceStore.from_settings(settings)` for everything; the modules underneath take an
engine and a policy explicitly.
"""

from aurora_pipelines.governance.approvals import ApprovalRequest, ApprovalVerdict
from aurora_pipelines.governance.audit import ChainVerification, append_audit, verify_chain
from aurora_pipelines.governance.policy import ROLES, Policy, User, load_policy
from aurora_pipelines.governance.store import GovernanceStore, make_engine

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
