"""Run events: one stream for the notebook renderer, the SSE endpoint and the tests.

Names follow Agno's AgentOS events where they exist (``RunStarted``, ``RunContent``,
``ToolCallStarted``, ...), so clients built for AgentOS can read ours. ``to_dict()`` gives
the JSON payload of the SSE ``data:`` line, with the event name under ``"event"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from agno_nb.run import RunOutput, ToolExecution

if TYPE_CHECKING:
    from agno_nb.approvals import ApprovalRequest

__all__ = [
    "ApprovalRequested",
    "ModelRequestCompleted",
    "ModelRequestStarted",
    "RunCompleted",
    "RunContent",
    "RunContinued",
    "RunError",
    "RunEvent",
    "RunPaused",
    "RunStarted",
    "ToolCallCompleted",
    "ToolCallError",
    "ToolCallProgress",
    "ToolCallStarted",
]


@dataclass(slots=True, kw_only=True)
class _Event:
    event: ClassVar[str]
    run_id: str
    agent_id: str
    session_id: str

    def _payload(self) -> dict[str, Any]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "run_id": self.run_id,
            "agent_id": self.agent_id,
            "session_id": self.session_id,
            **self._payload(),
        }


@dataclass(slots=True, kw_only=True)
class RunStarted(_Event):
    event: ClassVar[str] = "RunStarted"
    model: str
    user_id: str

    def _payload(self) -> dict[str, Any]:
        return {"model": self.model, "user_id": self.user_id}


@dataclass(slots=True, kw_only=True)
class RunContinued(_Event):
    event: ClassVar[str] = "RunContinued"
    user_id: str

    def _payload(self) -> dict[str, Any]:
        return {"user_id": self.user_id}


@dataclass(slots=True, kw_only=True)
class ModelRequestStarted(_Event):
    event: ClassVar[str] = "ModelRequestStarted"
    model: str


@dataclass(slots=True, kw_only=True)
class ModelRequestCompleted(_Event):
    event: ClassVar[str] = "ModelRequestCompleted"
    model: str
    input_tokens: int
    output_tokens: int
    stop_reason: str | None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def _payload(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "stop_reason": self.stop_reason,
        }


@dataclass(slots=True, kw_only=True)
class RunContent(_Event):
    """A piece of the model's answer, as it streams."""

    event: ClassVar[str] = "RunContent"
    content: str

    def _payload(self) -> dict[str, Any]:
        return {"content": self.content, "content_type": "str"}


@dataclass(slots=True, kw_only=True)
class _ToolEvent(_Event):
    tool: ToolExecution

    def _payload(self) -> dict[str, Any]:
        return {"tool": self.tool.to_dict()}


@dataclass(slots=True, kw_only=True)
class ToolCallStarted(_ToolEvent):
    event: ClassVar[str] = "ToolCallStarted"


@dataclass(slots=True, kw_only=True)
class ToolCallCompleted(_ToolEvent):
    event: ClassVar[str] = "ToolCallCompleted"


@dataclass(slots=True, kw_only=True)
class ToolCallProgress(_ToolEvent):
    """A long-running tool reports how far it is (MCP progress notifications)."""

    event: ClassVar[str] = "ToolCallProgress"
    progress: float
    total: float | None = None
    message: str | None = None

    def _payload(self) -> dict[str, Any]:
        return {
            "tool": self.tool.to_dict(),
            "progress": self.progress,
            "total": self.total,
            "message": self.message,
        }


@dataclass(slots=True, kw_only=True)
class ToolCallError(_ToolEvent):
    """A tool call failed (bad arguments, exception, rejection); the model is told."""

    event: ClassVar[str] = "ToolCallError"


@dataclass(slots=True, kw_only=True)
class ApprovalRequested(_Event):
    event: ClassVar[str] = "ApprovalRequested"
    approval: ApprovalRequest

    def _payload(self) -> dict[str, Any]:
        return {"approval": self.approval.to_dict()}


@dataclass(slots=True, kw_only=True)
class RunPaused(_Event):
    event: ClassVar[str] = "RunPaused"
    run: RunOutput = field(repr=False)

    def _payload(self) -> dict[str, Any]:
        return {
            "status": "PAUSED",
            "approvals": [a.to_dict() for a in self.run.approvals],
            "tools": [t.to_dict() for t in self.run.pending_tool_calls],
        }


@dataclass(slots=True, kw_only=True)
class RunCompleted(_Event):
    event: ClassVar[str] = "RunCompleted"
    run: RunOutput = field(repr=False)

    def _payload(self) -> dict[str, Any]:
        content = self.run.content
        if hasattr(content, "model_dump"):
            content = content.model_dump(mode="json")
        return {"content": content, "metrics": self.run.usage.to_dict()}


@dataclass(slots=True, kw_only=True)
class RunError(_Event):
    """The run failed; ``run`` has status ``failed`` and is in the store."""

    event: ClassVar[str] = "RunError"
    error: str
    error_type: str
    run: RunOutput = field(repr=False)
    exception: BaseException | None = field(default=None, repr=False)

    def _payload(self) -> dict[str, Any]:
        return {"content": self.error, "error_type": self.error_type}


RunEvent: TypeAlias = (
    RunStarted
    | RunContinued
    | ModelRequestStarted
    | ModelRequestCompleted
    | RunContent
    | ToolCallStarted
    | ToolCallCompleted
    | ToolCallProgress
    | ToolCallError
    | ApprovalRequested
    | RunPaused
    | RunCompleted
    | RunError
)
