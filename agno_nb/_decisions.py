"""Deciding approvals and taking paused runs back up: the rules, enforced in one place.

``decide`` checks that the principal may decide (and records a refusal if not), then asks
the store for an atomic compare-and-set from ``pending``. ``lease_paused_run`` takes the
run's lease in the store, so only one process continues a run, and only once every
approval is decided.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from agno_nb.approvals import REQUIRED, ApprovalRequest, Principal, local_principal

if TYPE_CHECKING:
    from agno_nb.run import RunOutput
    from agno_nb.storage import Store

__all__ = ["decide", "lease_owner", "lease_paused_run", "permission_problem"]

#: how long a continuing process may hold a run before another may declare it crashed
LEASE_TTL = timedelta(minutes=10)

_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_owner() -> str:
    """This process's lease-owner id: host, pid and a random suffix."""
    return _OWNER


def permission_problem(approval: ApprovalRequest, principal: Principal) -> str | None:
    """Why ``principal`` may not decide ``approval``, or None if they may."""
    role = approval.required_role
    own = principal.user_id == approval.requested_by
    if role == REQUIRED:
        if own and not approval.self_approval:
            return (
                f"{principal.user_id} requested this call and this agent requires someone "
                "else to approve it (self_approval=False)"
            )
        return None
    if not principal.has_role(role):
        held = ", ".join(sorted(principal.roles)) or "none"
        return f"this call needs the {role!r} role; {principal.user_id} has roles: {held}"
    return None


def decide(
    store: Store,
    approval_id: str,
    by: Principal | None,
    status: Literal["approved", "rejected"],
    *,
    reason: str | None = None,
    args: dict[str, Any] | None = None,
) -> ApprovalRequest:
    """Approve or reject, atomically; raises ``ApprovalError`` subclasses and changes
    nothing when the decision is not allowed."""
    principal = by or local_principal()
    action = "approve" if status == "approved" else "reject"

    def check(approval: ApprovalRequest) -> str | None:
        problem = permission_problem(approval, principal)
        return None if problem is None else f"cannot {action} {approval.tool_name!r}: {problem}"

    if status == "rejected" and not reason:
        reason = "no reason given"
    decided = store.decide_approval(
        approval_id,
        status=status,
        decided_by=principal.user_id,
        reason=reason,
        edited_args=args,
        check=check,
    )
    decided.store = store
    return decided


def lease_paused_run(store: Store, run_id: str, agent_id: str) -> RunOutput:
    """Take the lease of a paused run whose approvals are all decided (or expired)."""
    run = store.lease_run(run_id, owner=_OWNER, ttl=LEASE_TTL, agent_id=agent_id)
    for approval in run.approvals:
        approval.store = store
    return run
