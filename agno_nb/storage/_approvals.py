"""SQL jobs for approvals and run leases (standard SQL: DuckDB now, Postgres later).

Each job takes a connection and runs inside one transaction of the store. A job never
raises for a refused operation: it returns the reason, so that what it recorded (a
refusal in ``approval_events``, an approval that expired) is committed; the store method
raises after the commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from agno_nb.approvals import DECISIONS, ApprovalRequest
from agno_nb.exceptions import (
    ApprovalDecidedError,
    ApprovalError,
    ApprovalNotFoundError,
    ApprovalPermissionError,
    RunLeaseError,
    RunNotFoundError,
    RunStateError,
)
from agno_nb.run import RunOutput, RunStatus, utcnow

__all__ = [
    "APPROVAL_COLUMNS",
    "ApprovalStoreMixin",
    "LeaseOutcome",
    "decide_approval",
    "insert_approvals",
    "lease_run",
    "paused_approvals",
    "record_event",
    "select_approvals",
]


class Connection(Protocol):
    def execute(self, query: str, parameters: Any = ..., /) -> Any: ...


APPROVAL_COLUMNS = (
    "approval_id", "run_id", "session_id", "agent_id", "tool_call_id", "tool_name", "args",
    "required_role", "requested_by", "requested_at", "expires_at", "status", "decided_by",
    "decided_at", "reason", "edited_args", "self_approval", "policy_error",
)  # fmt: skip
_SELECT = f"SELECT {', '.join(APPROVAL_COLUMNS)} FROM approvals"


def _approval_from_row(row: tuple[Any, ...]) -> ApprovalRequest:
    data = dict(zip(APPROVAL_COLUMNS, row, strict=True))
    for column in ("args", "edited_args"):
        if isinstance(data[column], str):
            data[column] = json.loads(data[column])
    return ApprovalRequest(**data)


def insert_approvals(con: Connection, approvals: list[ApprovalRequest]) -> None:
    marks = ", ".join("?" * len(APPROVAL_COLUMNS))
    for a in approvals:
        con.execute(
            f"INSERT INTO approvals ({', '.join(APPROVAL_COLUMNS)}) VALUES ({marks})",
            [
                a.approval_id, a.run_id, a.session_id, a.agent_id, a.tool_call_id, a.tool_name,
                json.dumps(a.args, default=str), a.required_role, a.requested_by,
                a.requested_at, a.expires_at, a.status, a.decided_by, a.decided_at, a.reason,
                None if a.edited_args is None else json.dumps(a.edited_args, default=str),
                a.self_approval, a.policy_error,
            ],
        )  # fmt: skip


def select_approvals(
    con: Connection, filters: dict[str, Any], *, limit: int = 1000
) -> list[ApprovalRequest]:
    """Approvals matching the equality ``filters`` (our column names), oldest first."""
    used = {k: v for k, v in filters.items() if v is not None}
    where = " WHERE " + " AND ".join(f"{k} = ?" for k in used) if used else ""
    rows = con.execute(
        f"{_SELECT}{where} ORDER BY requested_at, approval_id LIMIT ?", [*used.values(), limit]
    ).fetchall()
    return [_approval_from_row(r) for r in rows]


def record_event(
    con: Connection,
    approval_id: str,
    user_id: str,
    action: str,
    outcome: str,
    detail: str,
    at: datetime,
) -> None:
    """Append to the audit trail: every decision attempt, applied or refused."""
    con.execute(
        "INSERT INTO approval_events (approval_id, created_at, user_id, action, outcome, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [approval_id, at, user_id, action, outcome, detail],
    )


def _expire_overdue(con: Connection, where: str, params: list[Any], now: datetime) -> None:
    con.execute(
        "UPDATE approvals SET status = 'expired', decided_at = expires_at, "
        "reason = 'the approval expired' "
        f"WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= ? AND {where}",
        [now, *params],
    )


def decide_approval(
    con: Connection,
    approval_id: str,
    *,
    status: str,
    decided_by: str,
    reason: str | None,
    edited_args: dict[str, Any] | None,
    now: datetime,
    check: Callable[[ApprovalRequest], str | None] | None = None,
) -> ApprovalRequest | tuple[str, str]:
    """Check and compare-and-set from ``pending``, in one transaction.

    Returns the decided approval, or ``(kind, problem)`` with kind ``not_found``,
    ``decided`` (decided already, or expired) or ``permission`` (``check`` refused the
    decider); every refusal is recorded in ``approval_events``.
    """
    action = "approve" if status == "approved" else "reject"
    found = select_approvals(con, {"approval_id": approval_id})
    if not found:
        return "not_found", f"no approval {approval_id!r} in the store"
    current = found[0]
    if current.is_expired and current.status == "pending":
        _expire_overdue(con, "approval_id = ?", [approval_id], now)
        current.status = "expired"
    problem, kind = None, "decided"
    if current.status == "expired":
        problem = f"approval {approval_id} expired at {current.expires_at:%Y-%m-%d %H:%M:%S %Z}"
    elif current.status != "pending":
        problem = (
            f"approval {approval_id} was already {current.status} by {current.decided_by} "
            f"at {current.decided_at:%Y-%m-%d %H:%M:%S %Z}"
        )
    elif check is not None and (problem := check(current)) is not None:
        kind = "permission"
    if problem is not None:
        record_event(con, approval_id, decided_by, action, "refused", problem, now)
        return kind, problem
    rows = con.execute(
        "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, reason = ?, "
        f"edited_args = ? WHERE approval_id = ? AND status = 'pending' "
        f"RETURNING {', '.join(APPROVAL_COLUMNS)}",
        [
            status, decided_by, now, reason,
            None if edited_args is None else json.dumps(edited_args, default=str), approval_id,
        ],
    ).fetchall()  # fmt: skip
    if not rows:  # decided between our read and our write (another connection)
        return "decided", f"approval {approval_id} was decided concurrently"
    record_event(con, approval_id, decided_by, action, "applied", reason or "", now)
    return _approval_from_row(rows[0])


@dataclass(slots=True)
class LeaseOutcome:
    """What ``lease_run`` found: the approvals of a leased run, or why it was refused."""

    approvals: list[ApprovalRequest]
    problem: str | None = None
    kind: str = ""  # "not_found" | "state" | "lease" when refused
    run: RunOutput | None = None


def lease_run(
    con: Connection,
    run_id: str,
    *,
    owner: str,
    ttl: timedelta,
    agent_id: str,
    now: datetime,
    load_run: Callable[[Any, str], RunOutput | None],
) -> LeaseOutcome:
    """Move a paused run whose approvals are all decided to ``running`` under a lease."""
    row = con.execute(
        "SELECT status, agent_id, lease_owner, lease_expires_at FROM runs WHERE run_id = ?",
        [run_id],
    ).fetchone()
    if row is None:
        return LeaseOutcome([], f"no run {run_id!r} in the store", "not_found")
    status, run_agent, lease_owner, lease_expires = row
    if run_agent != agent_id:
        return LeaseOutcome([], f"run {run_id} belongs to agent {run_agent!r}", "state")
    if status == "running" and lease_owner and lease_expires > now:
        return LeaseOutcome(
            [], f"run {run_id} is being continued by {lease_owner} (lease until "
            f"{lease_expires:%H:%M:%S %Z}); only one process continues a run", "lease",
        )  # fmt: skip
    if status == "running" and lease_owner:
        con.execute(
            "UPDATE runs SET status = 'failed', error = ?, error_type = 'RunLeaseError', "
            "finished_at = ?, updated_at = ? WHERE run_id = ?",
            [f"the process {lease_owner} continuing this run stopped before it finished",
             now, now, run_id],
        )  # fmt: skip
        return LeaseOutcome(
            [], f"run {run_id} was being continued by {lease_owner}, which stopped before "
            "finishing (its lease expired); the run is marked failed", "state",
        )  # fmt: skip
    if status != "paused":
        return LeaseOutcome(
            [], f"run {run_id} is {status}, not paused: there is nothing to continue "
            "(a continue is never replayed)", "state",
        )  # fmt: skip
    run = load_run(con, run_id)
    assert run is not None
    approvals, missing = paused_approvals(con, run)
    if missing is not None:
        return LeaseOutcome([], missing, "state")
    overdue = [a for a in approvals if a.status == "pending" and a.is_expired]
    if overdue:
        _expire_overdue(con, "run_id = ?", [run_id], now)
        for a in overdue:
            a.status, a.decided_at, a.reason = "expired", a.expires_at, "the approval expired"
    waiting = [a for a in approvals if a.status == "pending"]
    if waiting:
        listed = "; ".join(
            f"{a.approval_id} {a.tool_name}({json.dumps(a.args)}) needs {a.required_role!r}"
            for a in waiting
        )
        return LeaseOutcome(
            approvals, f"run {run_id} has {len(waiting)} undecided approval(s): {listed}",
            "state",
        )  # fmt: skip
    con.execute(
        "UPDATE runs SET status = 'running', lease_owner = ?, lease_expires_at = ?, "
        "updated_at = ? WHERE run_id = ? AND status = 'paused'",
        [owner, now + ttl, now, run_id],
    )
    run.status, run.updated_at = RunStatus.RUNNING, now
    return LeaseOutcome(approvals, run=run)


def paused_approvals(con: Connection, run: RunOutput) -> tuple[list[ApprovalRequest], str | None]:
    """The approvals that the pending calls of a paused run wait for, in call order, and
    what is wrong if the row of any is missing (a pause stored by an agno-nb that wrote
    the run and its approvals in two transactions, and died between them)."""
    pending = run.pending_tool_calls
    if not pending:
        return [], None
    rows = select_approvals(con, {"run_id": run.run_id})
    by_id = {a.approval_id: a for a in rows}
    by_call = {a.tool_call_id: a for a in rows}
    found, missing = [], []
    for call in pending:
        approval = by_id.get(call.approval_id) if call.approval_id else by_call.get(call.id)
        if approval is None:
            missing.append(f"{call.name} ({call.approval_id or call.id})")
        else:
            found.append(approval)
    if not missing:
        return found, None
    return found, (
        f"run {run.run_id} is paused, but the approval rows of its pending call(s) "
        f"{', '.join(missing)} are missing from the store: the pause was not stored whole, "
        "so the run cannot be continued"
    )


class ApprovalStoreMixin:
    """The approval and lease methods of a store, on top of its ``call(fn)``."""

    def call(self, fn: Any) -> Any:  # provided by the store class
        raise NotImplementedError

    def get_approval(self, approval_id: str) -> ApprovalRequest | None:
        found = self.call(lambda con: select_approvals(con, {"approval_id": approval_id}))
        return found[0] if found else None

    def list_approvals(
        self,
        *,
        status: str | None = None,
        run_id: str | None = None,
        session_id: str | None = None,
        agent_id: str | None = None,
        requested_by: str | None = None,
        required_role: str | None = None,
        limit: int = 1000,
    ) -> list[ApprovalRequest]:
        """Approvals matching the filters, oldest first."""
        filters = {
            "status": status, "run_id": run_id, "session_id": session_id,
            "agent_id": agent_id, "requested_by": requested_by, "required_role": required_role,
        }  # fmt: skip
        found: list[ApprovalRequest] = self.call(
            lambda con: select_approvals(con, filters, limit=limit)
        )
        return found

    def decide_approval(
        self,
        approval_id: str,
        *,
        status: str,
        decided_by: str,
        reason: str | None = None,
        edited_args: dict[str, Any] | None = None,
        check: Callable[[ApprovalRequest], str | None] | None = None,
    ) -> ApprovalRequest:
        """Compare-and-set from ``pending`` after ``check(approval)`` (None: allowed, or
        the reason the decider may not). Raises ``ApprovalNotFoundError``,
        ``ApprovalDecidedError`` (double or expired decision) or
        ``ApprovalPermissionError``, having recorded the refusal; ``ApprovalError`` for a
        status other than ``approved`` / ``rejected`` (nothing is recorded)."""
        if status not in DECISIONS:
            raise ApprovalError(
                f"a decision is 'approved' or 'rejected', not {status!r}: nothing was stored"
            )
        now = utcnow()
        outcome: ApprovalRequest | tuple[str, str] = self.call(
            lambda con: decide_approval(
                con, approval_id, status=status, decided_by=decided_by, reason=reason,
                edited_args=edited_args, now=now, check=check,
            )
        )  # fmt: skip
        if isinstance(outcome, tuple):
            kind, problem = outcome
            raise {
                "not_found": ApprovalNotFoundError,
                "permission": ApprovalPermissionError,
            }.get(kind, ApprovalDecidedError)(problem)
        return outcome

    def list_approval_events(self, approval_id: str | None = None) -> list[dict[str, Any]]:
        """The audit trail, oldest first: who tried to decide what, and what happened."""
        where, params = ("WHERE approval_id = ?", [approval_id]) if approval_id else ("", [])
        columns = ("approval_id", "created_at", "user_id", "action", "outcome", "detail")
        rows = self.call(
            lambda con: con.execute(
                f"SELECT {', '.join(columns)} FROM approval_events {where} ORDER BY created_at",
                params,
            ).fetchall()
        )
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def lease_run(self, run_id: str, *, owner: str, ttl: timedelta, agent_id: str) -> RunOutput:
        """Take a paused run for continuing; raises ``RunNotFoundError``,
        ``RunLeaseError`` (another process has it) or ``RunStateError``."""
        now = utcnow()
        outcome: LeaseOutcome = self.call(
            lambda con: lease_run(
                con, run_id, owner=owner, ttl=ttl, agent_id=agent_id, now=now,
                load_run=self._load_run,
            )
        )  # fmt: skip
        if outcome.problem is not None:
            error = {"not_found": RunNotFoundError, "lease": RunLeaseError}.get(
                outcome.kind, RunStateError
            )
            raise error(outcome.problem)
        run = outcome.run
        assert run is not None
        run.approvals = outcome.approvals
        return run

    def _load_run(self, con: Any, run_id: str) -> RunOutput | None:  # provided by the store
        raise NotImplementedError
