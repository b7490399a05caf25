"""HTTP request bodies (validated) and response shapes (for the OpenAPI document).

Runs and continues accept JSON, ``multipart/form-data`` and urlencoded forms alike, as
AgentOS does (Agno's clients send forms). Unknown fields are ignored, so that Agno's
clients, which send extra run options, work unchanged. Responses on the hot paths are
written without a response-model round trip; the models here document them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agno_nb.runtime import _json

__all__ = [
    "AgentDetail",
    "AgentSummary",
    "ApprovalOut",
    "ConfigOut",
    "ContinueRequest",
    "ErrorOut",
    "HealthOut",
    "Page",
    "PageMeta",
    "ResolveRequest",
    "RunOut",
    "RunRequest",
    "SessionDetail",
    "SessionOut",
    "TraceDetail",
    "TraceNode",
    "TraceSummary",
]

_ID_PATTERN = r"^[^\x00-\x1f]*$"  # no control characters


Events = Annotated[
    Literal["all", "agentos"],
    Field(
        description="SSE events: all (default), or only those Agno's clients know "
        "(leaves out ApprovalRequested and ToolCallProgress: RunPaused carries the same)"
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class RunRequest(_Body):
    """``POST /agents/{agent_id}/runs``."""

    message: str = Field(min_length=1, max_length=200_000, description="The prompt.")
    stream: bool = Field(True, description="Server-Sent Events (default) or the run as JSON.")
    session_id: str | None = Field(
        None, min_length=1, max_length=256, pattern=_ID_PATTERN,
        description="A conversation to continue; a new one if omitted.",
    )  # fmt: skip
    user_id: str | None = Field(
        None, min_length=1, max_length=256, pattern=_ID_PATTERN,
        description="Must match the credential's user unless the caller is an admin.",
    )  # fmt: skip
    events: Events = "all"


class ContinueRequest(_Body):
    """``POST /agents/{agent_id}/runs/{run_id}/continue``.

    ``tools`` (optional, AgentOS style) is a JSON list of tool executions whose
    ``confirmed`` flag decides the matching approvals as the caller; without it, the
    approvals must have been resolved through ``/approvals/{id}/resolve``.
    """

    stream: bool = True
    events: Events = "all"
    tools: str | list[dict[str, Any]] | None = Field(None, max_length=100_000)
    session_id: str | None = Field(None, max_length=256)
    user_id: str | None = Field(None, max_length=256)

    @field_validator("tools")
    @classmethod
    def _tools_from_json(cls, tools: str | list[dict[str, Any]] | None) -> Any:
        """A form sends ``tools`` as JSON text: parsed here, with the body's bounds."""
        if not isinstance(tools, str):
            return tools
        parsed = _json.loads(tools, "tools")
        if not isinstance(parsed, list) or not all(isinstance(t, dict) for t in parsed):
            raise ValueError("tools must be a JSON list of tool executions (objects)")
        return parsed


class ResolveRequest(_Body):
    """``POST /approvals/{approval_id}/resolve``: the decider is the caller."""

    status: Literal["approved", "rejected"]
    reason: str | None = Field(None, max_length=10_000)
    args: dict[str, Any] | None = Field(None, description="Edited arguments (approvals only).")


class ErrorOut(BaseModel):
    detail: Any
    error_type: str | None = None


class HealthOut(BaseModel):
    status: Literal["ok"]
    instantiated_at: str
    agents: int


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ModelOut(_Open):
    id: str | None = None
    provider: str | None = None


class AgentSummary(_Open):
    id: str
    name: str
    description: str | None = None
    db_id: str
    model: ModelOut


class AgentDetail(_Open):
    id: str
    name: str
    description: str | None = None
    db_id: str
    model: dict[str, Any]
    tools: dict[str, Any]


class ConfigOut(_Open):
    os_id: str
    name: str | None = None
    description: str | None = None
    databases: list[str]
    agents: list[AgentSummary]
    teams: list[Any]
    workflows: list[Any]
    interfaces: list[Any]


class RunOut(_Open):
    """A run in AgentOS's shape (``RunOutput.to_dict()`` of Agno), plus ``approvals``,
    ``trace_id``, ``stop_reason``, ``error`` and ``usage``."""

    run_id: str
    agent_id: str
    session_id: str
    user_id: str
    status: Literal["RUNNING", "PAUSED", "COMPLETED", "ERROR", "CANCELLED"]
    content: Any = None
    metrics: dict[str, Any]
    tools: list[dict[str, Any]]
    approvals: list[dict[str, Any]]


class ApprovalOut(_Open):
    approval_id: str
    id: str
    run_id: str
    session_id: str
    agent_id: str | None
    tool_name: str
    args: dict[str, Any]
    required_role: str
    requested_by: str
    status: Literal["pending", "approved", "rejected", "expired"]
    decided_by: str | None = None
    reason: str | None = None
    policy_error: str | None = None


class PageMeta(BaseModel):
    page: int
    limit: int
    total_pages: int
    total_count: int


class Page(BaseModel):
    data: list[dict[str, Any]]
    meta: PageMeta


class SessionOut(_Open):
    session_id: str
    session_name: str
    user_id: str
    agent_id: str | None = None
    created_at: str
    updated_at: str


class SessionDetail(SessionOut):
    agent_session_id: str
    chat_history: list[dict[str, Any]]


class TraceSummary(_Open):
    trace_id: str
    name: str
    status: Literal["OK", "ERROR", "UNSET"]
    duration: str
    start_time: str
    end_time: str
    total_spans: int
    error_count: int
    created_at: str


class TraceNode(_Open):
    id: str
    name: str
    type: str
    duration: str
    start_time: str
    end_time: str
    status: str
    spans: list[TraceNode] | None = None


class TraceDetail(TraceSummary):
    tree: list[TraceNode]
