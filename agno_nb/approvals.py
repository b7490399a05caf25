"""Approvals as code: who must say yes before a tool call runs.

Policy (declared with the tool, or per agent by name or glob)::

    @tool                                   # auto: runs at once
    @tool(approval="required")              # any authorised person approves
    @tool(approval="admin")                 # a person with the ``admin`` role approves
    @tool(approval=Approval(role="admin", expires_in=timedelta(hours=1)))
    @tool(approval=lambda call: "admin" if call.args["amount"] > 500 else None)

A callable policy that raises (or returns something that is not a policy) never lets the
call run at once: the call needs the agent's ``policy_error_role`` (``admin`` unless set),
and the policy's error is shown on the approval.

Who may decide (enforced by the approvals desk, whatever the caller):

* ``required``: any principal, the requester included (in a notebook the person who runs
  the agent is the human in the loop). ``Agent(self_approval=False)`` makes it four-eyes:
  then the requester may not approve their own call.
* a role (``admin``, ``finance``, ...): only a principal holding exactly that role; a
  requester approves their own call only if they hold it. ``admin`` is not a wildcard.
* Rejections follow the same rules as approvals. Every refused attempt is recorded.
* Edited arguments are validated against the tool's schema and classified again by the
  same policy: the decider must satisfy the rule of the call as proposed *and* the rule of
  the call as edited (``amount=10`` edited to ``amount=100000`` under a tiered policy
  needs whatever ``100000`` needs).

An approval is a row (``ApprovalRequest``), plain data; deciding it is the job of the
approvals desk (``agno_nb.desk.ApprovalDesk``, ``agent.desk``): a compare-and-set from
``pending`` in the store, so a second decision is refused, never applied twice.
"""

from __future__ import annotations

import fnmatch
import functools
import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias

from agno_nb.run import utcnow

if TYPE_CHECKING:
    from agno_nb.tools import Tool

__all__ = [
    "DECISIONS",
    "Approval",
    "ApprovalRequest",
    "ApprovalRules",
    "ApprovalSpec",
    "Classification",
    "Principal",
    "ToolCall",
    "classify",
    "local_principal",
    "permission_problem",
    "set_local_principal",
]

REQUIRED = "required"
#: the role a call needs when its callable policy fails (unless the agent says otherwise)
POLICY_ERROR_ROLE = "admin"
#: the decisions a person can make; anything else is refused
DECISIONS: tuple[str, ...] = ("approved", "rejected")
ApprovalStatus = Literal["pending", "approved", "rejected", "expired"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Someone who runs agents or decides approvals: a user id and roles."""

    user_id: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def __init__(self, user_id: str, roles: Any = ()) -> None:
        if not user_id:
            raise ValueError("a Principal needs a non-empty user_id")
        object.__setattr__(self, "user_id", user_id)
        object.__setattr__(self, "roles", frozenset(roles))

    def has_role(self, role: str) -> bool:
        return role in self.roles


_local: Principal | None = None


def local_principal() -> Principal:
    """The notebook's default principal: ``$AGNO_NB_USER`` (else the OS user), with the
    roles in ``$AGNO_NB_ROLES`` (comma-separated), unless ``set_local_principal`` was
    called."""
    if _local is not None:
        return _local
    user = os.environ.get("AGNO_NB_USER") or _os_user()
    roles = [r.strip() for r in os.environ.get("AGNO_NB_ROLES", "").split(",") if r.strip()]
    return Principal(user, roles)


@functools.cache
def _os_user() -> str:
    return getpass.getuser()  # cached: asked by every run that names no user


def set_local_principal(principal: Principal | None) -> None:
    """Set (or with ``None`` reset) this process's default principal."""
    global _local
    _local = principal


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call as a policy callable sees it."""

    id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Approval:
    """A policy: the role that must approve (``"required"`` = anyone allowed), and an
    optional expiry after which the call counts as rejected."""

    role: str = REQUIRED
    expires_in: timedelta | None = None


ApprovalSpec: TypeAlias = "str | Approval | Callable[[ToolCall], str | Approval | None] | None"


def _as_approval(value: Any, where: str) -> Approval | None:
    if value is None or value == "auto":
        return None
    if isinstance(value, Approval):
        return value
    if isinstance(value, str) and value:
        return Approval(role=value)
    raise TypeError(
        f"{where}: an approval policy is None, 'auto', 'required', a role name, "
        f"an Approval(...) or a callable returning one of those; got {value!r}"
    )


class Classification(NamedTuple):
    """What a call needs: ``rule`` (None: it runs at once) and, when a callable policy
    failed for this call, the policy's error (then ``rule`` is the fallback role)."""

    rule: Approval | None
    policy_error: str | None = None


def classify(
    call: ToolCall,
    tool_policy: ApprovalSpec,
    overrides: Mapping[str, ApprovalSpec],
    *,
    on_error: str = POLICY_ERROR_ROLE,
) -> Classification:
    """The approval a call needs.

    An agent-level override (exact name first, then the first matching glob) replaces the
    tool's own policy. A callable policy is evaluated for this call's arguments; if it
    raises or returns something that is not a policy, the call needs the ``on_error``
    role and the error is returned with it (a policy error never auto-runs a call).
    """
    policy = tool_policy
    if call.name in overrides:
        policy = overrides[call.name]
    else:
        for pattern, spec in overrides.items():
            if fnmatch.fnmatchcase(call.name, pattern):
                policy = spec
                break
    if not callable(policy) or isinstance(policy, Approval):
        return Classification(_as_approval(policy, f"approval policy of tool {call.name!r}"))
    try:
        return Classification(_as_approval(policy(call), f"the policy of tool {call.name!r}"))
    except Exception as exc:
        error = f"the approval policy of {call.name!r} failed: {type(exc).__name__}: {exc}"
        return Classification(Approval(role=on_error), error)


@dataclass(frozen=True, slots=True)
class ApprovalRules:
    """How one agent judges its tool calls: each tool (its schema and policy), the
    agent's overrides, four-eyes, and the role a failing policy falls back to."""

    tools: Mapping[str, Tool]
    overrides: Mapping[str, ApprovalSpec] = field(default_factory=dict)
    self_approval: bool = True
    policy_error_role: str = POLICY_ERROR_ROLE

    def classify(self, call: ToolCall) -> Classification:
        tool = self.tools.get(call.name)
        if tool is not None and tool.approval is None and not self.overrides:
            return Classification(None)  # the common case, without a glob scan
        policy = tool.approval if tool is not None else None
        return classify(call, policy, self.overrides, on_error=self.policy_error_role)


def permission_problem(
    approval: ApprovalRequest, principal: Principal, role: str | None = None
) -> str | None:
    """Why ``principal`` may not decide ``approval`` (under ``role``, by default the
    approval's own), or None if they may."""
    role = approval.required_role if role is None else role
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


@dataclass(slots=True, kw_only=True)
class ApprovalRequest:
    """One approval row: a paused tool call waiting for (or having had) a decision."""

    approval_id: str
    run_id: str
    session_id: str
    agent_id: str
    tool_call_id: str
    tool_name: str
    args: dict[str, Any]
    required_role: str
    requested_by: str
    requested_at: datetime = field(default_factory=utcnow)
    expires_at: datetime | None = None
    status: ApprovalStatus = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    edited_args: dict[str, Any] | None = None
    self_approval: bool = True
    #: the error of a callable policy that failed for this call (it then needs the
    #: agent's ``policy_error_role``)
    policy_error: str | None = None

    @property
    def is_expired(self) -> bool:
        return self.status == "expired" or (
            self.status == "pending" and self.expires_at is not None and utcnow() >= self.expires_at
        )

    def take_decision(self, decided: ApprovalRequest) -> None:
        """Copy the decision fields of ``decided`` (the same approval, read later)."""
        for name in ("status", "decided_by", "decided_at", "reason", "edited_args"):
            setattr(self, name, getattr(decided, name))

    def to_dict(self) -> dict[str, Any]:
        return {
            "approval_id": self.approval_id,
            "run_id": self.run_id,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "tool_call_id": self.tool_call_id,
            "tool_name": self.tool_name,
            "args": self.args,
            "required_role": self.required_role,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "status": self.status,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "reason": self.reason,
            "edited_args": self.edited_args,
            "policy_error": self.policy_error,
        }
