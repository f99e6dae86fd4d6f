"""Whether an approval decision was already carried out, whoever carried it out.

The approval sensor keeps a cursor in the Dagster instance; a new instance (a fresh `make ui`
home, a restored daemon) starts it at zero and would launch promotions for every approval
ever decided. The governance store is the state that counts: each promotion is audited
(`promotion`, with the approval id it acted on), by the CLI, the sensor or anyone else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aurora_pipelines.governance.approvals import ApprovalRequest
    from aurora_pipelines.governance.store import GovernanceStore

PROMOTION_EVENT = "promotion"  # audited by deploy.promotion.promote


def promoted_approvals(store: GovernanceStore) -> list[tuple[int, str, str]]:
    """(approval id, gate, model name) of every audited promotion."""
    rows = []
    for row in store.read_audit(event=PROMOTION_EVENT):
        details = row.get("details") or {}
        if details.get("approval_id") is None:
            continue
        model = str(row.get("target") or "").rsplit("/", 1)[0]
        rows.append((int(details["approval_id"]), str(details.get("gate")), model))
    return rows


def already_acted_on(
    request: ApprovalRequest, promotions: list[tuple[int, str, str]]
) -> str | None:
    """Why launching the request's promotion would repeat history, or None if it would not:
    its promotion ran, or a later approval of the same gate and model was promoted since."""
    for approval_id, gate, model in promotions:
        if approval_id == request.id:
            return f"approval request #{request.id} was already promoted"
        if approval_id > request.id and gate == request.gate and model == request.model_name:
            return (
                f"approval request #{request.id} is superseded: #{approval_id} of the same "
                f"{gate} gate was promoted since"
            )
    return None
