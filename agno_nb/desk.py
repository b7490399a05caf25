"""The approvals desk: the one place that lists, decides and leases approvals.

Every caller goes through an ``ApprovalDesk``: the run loop and ``continue_run`` (to take
a paused run), the notebook widgets, the service's routes, the CLI and the tests. The rules
themselves (who may decide, what a call needs) are data in ``agno_nb.approvals``; the desk
applies them against a store::

    desk = agent.desk                        # this agent's rules, this agent's store
    for approval in desk.list(status="pending", role="admin"):
        desk.approve(approval, by=Principal("root", roles={"admin"}))
    desk.reject(approval_id, by=ana, reason="not this customer")

A decision is a compare-and-set from ``pending`` in one store transaction: a second one is
refused (``ApprovalDecidedError``), never applied twice, and every refusal is written to
the audit trail. Edited arguments are validated against the tool's schema and classified
again by the same policy before anything is stored: the decider must satisfy the rule of
the call as proposed and the rule of the call as edited.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agno_nb.approvals import (
    DECISIONS,
    REQUIRED,
    ApprovalRequest,
    ApprovalRules,
    Principal,
    ToolCall,
    local_principal,
    permission_problem,
)
from agno_nb.exceptions import ApprovalError, ApprovalNotFoundError

if TYPE_CHECKING:
    from agno_nb.run import RunOutput
    from agno_nb.storage import Store

__all__ = ["ApprovalDesk"]

#: how long a continuing process may hold a run before another may declare it crashed
LEASE_TTL = timedelta(minutes=10)

_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

RulesFor = Callable[[str], "ApprovalRules | None"]
Approvals = list[ApprovalRequest]  # ``list`` is a method of the desk
Events = list[dict[str, Any]]


class ApprovalDesk:
    """Lists, decides and leases the approvals of ``store``.

    ``rules`` gives, for an agent id, that agent's ``ApprovalRules`` (its tools and
    policies), or None for an agent this process does not define: such approvals can be
    approved or rejected as proposed, but not with edited arguments (nobody here could
    check them against the agent's policy).
    """

    __slots__ = ("_rules", "store")

    def __init__(self, store: Store, rules: RulesFor | ApprovalRules | None = None) -> None:
        self.store = store
        if isinstance(rules, ApprovalRules):
            fixed = rules
            self._rules: RulesFor = lambda _agent_id: fixed
        else:
            self._rules = rules or (lambda _agent_id: None)

    def __repr__(self) -> str:
        return f"ApprovalDesk({self.store!r})"

    # -- reading ----------------------------------------------------------------------

    def get(self, approval_id: str) -> ApprovalRequest:
        """One approval; raises ``ApprovalNotFoundError``."""
        found = self.store.get_approval(approval_id)
        if found is None:
            raise ApprovalNotFoundError(f"no approval {approval_id!r} in the store")
        return found

    def list(
        self,
        *,
        status: str | None = None,
        agent_id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        role: str | None = None,
        limit: int = 1000,
    ) -> Approvals:
        """Approvals matching every filter given, oldest first. ``user_id`` is the
        requester; ``role`` the role required (``"required"``: anyone allowed)."""
        return self.store.list_approvals(
            status=status, agent_id=agent_id, requested_by=user_id, session_id=session_id,
            run_id=run_id, required_role=role, limit=limit,
        )  # fmt: skip

    def decidable_by(self, principal: Principal, **filters: Any) -> Approvals:
        """Pending approvals ``principal`` may decide (as proposed)."""
        pending = self.list(status="pending", **filters)
        return [a for a in pending if permission_problem(a, principal) is None]

    def events(self, approval_id: str | None = None) -> Events:
        """The audit trail, oldest first: who tried to decide what, and what happened."""
        return self.store.list_approval_events(approval_id)

    # -- deciding ---------------------------------------------------------------------

    def approve(
        self,
        approval: ApprovalRequest | str,
        by: Principal | None = None,
        *,
        args: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> ApprovalRequest:
        """Approve (optionally with edited ``args``) as ``by`` (default: the local
        principal); returns the decided row."""
        return self.decide(approval, "approved", by, args=args, reason=reason)

    def reject(
        self, approval: ApprovalRequest | str, by: Principal | None = None, *, reason: str
    ) -> ApprovalRequest:
        """Reject; the model gets ``reason`` as the tool's error."""
        return self.decide(approval, "rejected", by, reason=reason)

    def decide(
        self,
        approval: ApprovalRequest | str,
        status: str,
        by: Principal | None = None,
        *,
        reason: str | None = None,
        args: dict[str, Any] | None = None,
    ) -> ApprovalRequest:
        """Approve or reject atomically; raises an ``ApprovalError`` and changes nothing
        (but the audit trail) when the decision is not allowed. An ``ApprovalRequest``
        passed in is updated to the decided row, which is also returned."""
        if status not in DECISIONS:
            raise ApprovalError(
                f"a decision is 'approved' or 'rejected', not {status!r}: nothing was stored"
            )
        if args is not None and status != "approved":
            raise ApprovalError("edited arguments go with an approval, not a rejection")
        principal = by or local_principal()
        approval_id = approval if isinstance(approval, str) else approval.approval_id
        edit_rule: str | None = None
        edit_problem: str | None = None
        if args is not None:
            edit_rule, edit_problem = self._judge_edit(self.get(approval_id), args)
        action = "approve" if status == "approved" else "reject"

        def check(current: ApprovalRequest) -> str | None:
            problem = edit_problem or permission_problem(current, principal)
            if problem is None and edit_rule is not None:
                problem = permission_problem(current, principal, edit_rule)
                if problem is not None:
                    problem = f"the edited arguments need {edit_rule!r}: {problem}"
            return None if problem is None else f"cannot {action} {current.tool_name!r}: {problem}"

        decided = self.store.decide_approval(
            approval_id,
            status=status,
            decided_by=principal.user_id,
            reason=reason or ("no reason given" if status == "rejected" else None),
            edited_args=args,
            check=check,
        )
        if isinstance(approval, ApprovalRequest):
            approval.take_decision(decided)
        return decided

    def _judge_edit(
        self, approval: ApprovalRequest, args: dict[str, Any]
    ) -> tuple[str | None, str | None]:
        """The rule the edited call needs (None: no stricter than ``required``) and a
        problem that refuses the edit outright; raises ``ApprovalArgumentsError`` for
        arguments that do not fit the tool's schema."""
        from agno_nb.exceptions import ApprovalArgumentsError
        from agno_nb.tools import ToolArgumentsError

        if not isinstance(args, dict):
            raise ApprovalArgumentsError(
                f"edited arguments of {approval.tool_name!r} must be a JSON object, "
                f"not {type(args).__name__}"
            )
        rules = self._rules(approval.agent_id)
        tool = None if rules is None else rules.tools.get(approval.tool_name)
        if rules is None or tool is None:
            return None, (
                f"edited arguments cannot be checked here: agent {approval.agent_id!r} and "
                f"its tool {approval.tool_name!r} are not defined in this process; approve "
                "the call as proposed, or decide where the agent is defined"
            )
        try:
            tool.validate(args)
        except ToolArgumentsError as exc:
            raise ApprovalArgumentsError(
                f"{exc} (the edited arguments were not stored; approval "
                f"{approval.approval_id} is still {approval.status})"
            ) from None
        verdict = rules.classify(ToolCall(approval.tool_call_id, approval.tool_name, args))
        if verdict.rule is None or verdict.rule.role == REQUIRED:
            return None, None
        return verdict.rule.role, None

    # -- continuing -------------------------------------------------------------------

    def lease(self, run_id: str, agent_id: str) -> RunOutput:
        """Take the lease of a paused run whose approvals are all decided (or expired):
        only one process continues a run. Raises ``RunNotFoundError``, ``RunLeaseError``
        or ``RunStateError``."""
        return self.store.lease_run(run_id, owner=_OWNER, ttl=LEASE_TTL, agent_id=agent_id)
