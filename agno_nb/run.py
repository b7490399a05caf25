"""What a run is and what it leaves: ``RunStatus``, ``ToolExecution``, ``RunOutput``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from agno_nb.messages import Message, Usage

if TYPE_CHECKING:
    from agno_nb.approvals import ApprovalRequest

__all__ = ["RunOutput", "RunStatus", "ToolExecution", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class RunStatus(StrEnum):
    """The states of a run (see docs/architecture.md): compares equal to its string value."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ToolStatus = Literal["pending", "completed", "error", "rejected"]


@dataclass(slots=True, kw_only=True)
class ToolExecution:
    """One tool call of a run: what was asked, what came back, how long it took."""

    id: str
    name: str
    args: dict[str, Any]
    status: ToolStatus = "pending"
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    started_at: datetime | None = None
    duration_ms: float | None = None
    approval_id: str | None = None
    required_role: str | None = None

    @property
    def is_error(self) -> bool:
        return self.status in ("error", "rejected")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "args": self.args,
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "error_type": self.error_type,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "duration_ms": self.duration_ms,
            "approval_id": self.approval_id,
            "required_role": self.required_role,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolExecution:
        return cls(
            id=data["id"],
            name=data["name"],
            args=data["args"],
            status=data["status"],
            result=data.get("result"),
            error=data.get("error"),
            error_type=data.get("error_type"),
            started_at=_ts(data.get("started_at")),
            duration_ms=data.get("duration_ms"),
            approval_id=data.get("approval_id"),
            required_role=data.get("required_role"),
        )


@dataclass(slots=True, kw_only=True)
class RunOutput:
    """The result of a run, also its persisted state.

    ``messages`` are the messages of this run only (the prompt, the model's turns and the
    tool results), not the history loaded from earlier runs. A paused run keeps in
    ``tool_calls`` the calls of its last turn, some ``pending``, and in ``approvals`` the
    approvals they wait for.
    """

    run_id: str
    agent_id: str
    agent_name: str
    session_id: str
    user_id: str
    input: str
    status: RunStatus = RunStatus.RUNNING
    content: Any = None
    messages: list[Message] = field(default_factory=list)
    tool_calls: list[ToolExecution] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    stop_reason: str | None = None
    error: str | None = None
    error_type: str | None = None
    trace_id: str | None = None
    root_span_id: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    approvals: list[ApprovalRequest] = field(default_factory=list)

    @property
    def duration_ms(self) -> float | None:
        """Wall time from start to finish (including time spent paused)."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds() * 1000

    @property
    def pending_tool_calls(self) -> list[ToolExecution]:
        return [t for t in self.tool_calls if t.status == "pending"]

    def to_dict(self) -> dict[str, Any]:
        content = self.content
        if hasattr(content, "model_dump"):
            content = content.model_dump(mode="json")
        return {
            "run_id": self.run_id,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "session_id": self.session_id,
            "user_id": self.user_id,
            "input": self.input,
            "status": str(self.status),
            "content": content,
            "messages": [m.to_dict() for m in self.messages],
            "tool_calls": [t.to_dict() for t in self.tool_calls],
            "usage": self.usage.to_dict(),
            "model": self.model,
            "stop_reason": self.stop_reason,
            "error": self.error,
            "error_type": self.error_type,
            "trace_id": self.trace_id,
            "root_span_id": self.root_span_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_ms": self.duration_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunOutput:
        created = _ts(data["created_at"])
        updated = _ts(data.get("updated_at"))
        assert created is not None
        return cls(
            run_id=data["run_id"],
            agent_id=data["agent_id"],
            agent_name=data.get("agent_name") or data["agent_id"],
            session_id=data["session_id"],
            user_id=data["user_id"],
            input=data.get("input") or "",
            status=RunStatus(data["status"]),
            content=data.get("content"),
            messages=[Message.from_dict(m) for m in data.get("messages") or []],
            tool_calls=[ToolExecution.from_dict(t) for t in data.get("tool_calls") or []],
            usage=Usage.from_dict(data.get("usage") or {}),
            model=data.get("model"),
            stop_reason=data.get("stop_reason"),
            error=data.get("error"),
            error_type=data.get("error_type"),
            trace_id=data.get("trace_id"),
            root_span_id=data.get("root_span_id"),
            created_at=created,
            updated_at=updated or created,
            finished_at=_ts(data.get("finished_at")),
        )

    def __repr__(self) -> str:
        text = self.content if isinstance(self.content, str) else repr(self.content)
        if text and len(text) > 60:
            text = text[:57] + "..."
        return (
            f"RunOutput(run_id={self.run_id!r}, status={str(self.status)!r}, "
            f"tool_calls={len(self.tool_calls)}, content={text!r})"
        )
