"""Our runs, events, sessions and agents in the JSON shapes of Agno's AgentOS.

Agno's clients (``AgentOSClient``, ``RemoteAgent``) parse responses with Agno's own
``from_dict`` methods: a run needs ``input`` as ``{"input_content": ...}``, upper-case
``status``, messages with ``role``/``content``/``tool_calls``, and tools as
``ToolExecution`` dicts (``tool_call_id``, ``tool_name``, ``tool_args``, ...). Those
methods ignore keys they do not know, so every shape here is a superset: Agno's fields,
plus ours (``approvals``, ``trace_id``, ``stop_reason``, ...) where they do not clash.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agno_nb.messages import Message, TextPart, ToolCallPart, ToolResultPart
from agno_nb.run import RunOutput, ToolExecution

if TYPE_CHECKING:
    from agno_nb.agent import Agent
    from agno_nb.approvals import ApprovalRequest
    from agno_nb.storage import SessionRecord

__all__ = [
    "PROVIDERS",
    "agent_detail",
    "agent_summary",
    "approval_dict",
    "event_dict",
    "run_dict",
    "session_detail",
    "session_summary",
]

STATUS = {
    "running": "RUNNING",
    "paused": "PAUSED",
    "completed": "COMPLETED",
    "failed": "ERROR",
    "cancelled": "CANCELLED",
}
PROVIDERS = {"anthropic": "Anthropic", "test": "Test", "function": "Function"}


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def tool_dict(tool: ToolExecution) -> dict[str, Any]:
    """Our ``ToolExecution.to_dict()`` plus Agno's names for the same facts."""
    data = tool.to_dict()
    undecided = tool.status == "pending" or tool.approval_id is None
    data.update(
        tool_call_id=tool.id,
        tool_name=tool.name,
        tool_args=tool.args,
        tool_call_error=tool.is_error,
        result=_text(tool.result) if tool.error is None else tool.error,
        requires_confirmation=tool.approval_id is not None or None,
        confirmed=None if undecided else tool.status != "rejected",
    )
    if tool.duration_ms is not None:
        data["metrics"] = {"duration": tool.duration_ms / 1000}
    return data


def messages_dicts(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages as Agno's ``Message`` dicts: one per tool result, with role ``tool``."""
    out: list[dict[str, Any]] = []
    for message in messages:
        text = "".join(p.text for p in message.parts if isinstance(p, TextPart))
        calls = [p for p in message.parts if isinstance(p, ToolCallPart)]
        results = [p for p in message.parts if isinstance(p, ToolResultPart)]
        if text or calls or not results:
            item: dict[str, Any] = {"role": message.role, "content": text or None}
            if calls:
                item["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(c.args)},
                    }
                    for c in calls
                ]
            out.append(item)
        for r in results:
            out.append(
                {
                    "role": "tool",
                    "content": _text(r.content),
                    "tool_call_id": r.tool_call_id,
                    "tool_name": r.name,
                    "tool_call_error": r.is_error,
                }
            )
    return out


def _metrics(run: RunOutput) -> dict[str, Any]:
    usage = run.usage
    metrics: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
    }
    if run.duration_ms is not None:
        metrics["duration"] = run.duration_ms / 1000
    return metrics


def run_dict(run: RunOutput, *, messages: bool = True) -> dict[str, Any]:
    """A run as AgentOS returns it (``RunOutput.to_dict()`` of Agno), plus our fields."""
    content = run.content
    if hasattr(content, "model_dump"):
        content = content.model_dump(mode="json")
    provider = "Anthropic" if (run.model or "").startswith("claude") else None
    data: dict[str, Any] = {
        "run_id": run.run_id,
        "agent_id": run.agent_id,
        "agent_name": run.agent_name,
        "session_id": run.session_id,
        "user_id": run.user_id,
        "input": {"input_content": run.input},
        "content": content,
        "content_type": "str" if content is None or isinstance(content, str) else "dict",
        "model": run.model,
        "model_provider": provider,
        "status": STATUS.get(str(run.status), str(run.status).upper()),
        "run_input": run.input,
        "metrics": _metrics(run),
        "tools": [tool_dict(t) for t in run.tool_calls],
        "created_at": _epoch(run.created_at),
        "updated_at": _epoch(run.updated_at),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "stop_reason": run.stop_reason,
        "error": run.error,
        "error_type": run.error_type,
        "trace_id": run.trace_id,
        "usage": run.usage.to_dict(),
        "approvals": [approval_dict(a) for a in run.approvals],
    }
    if run.status == "paused":
        data["requirements"] = requirements(data["tools"], _epoch(run.updated_at))
    if messages:
        data["messages"] = messages_dicts(run.messages)
    return data


def event_dict(data: dict[str, Any], agent_name: str, created_at: int) -> dict[str, Any]:
    """Complete an event's ``to_dict()`` with what Agno's event classes expect."""
    data["agent_name"] = agent_name
    data["created_at"] = created_at
    tool = data.get("tool")
    if tool is not None:
        data["tool"] = _tool_aliases(tool)
    if data["event"] == "RunPaused":
        data["tools"] = [_tool_aliases(t) for t in data["tools"]]
        data["requirements"] = requirements(data["tools"], created_at)
    return data


def requirements(tools: list[dict[str, Any]], created_at: int | None) -> list[dict[str, Any]]:
    """Agno's ``RunRequirement`` dicts for the calls that wait for a decision, so that its
    clients' usual loop (``run.active_requirements``, ``req.confirm()``, continue with
    ``requirements=``) works here."""
    when = None if created_at is None else datetime.fromtimestamp(created_at, UTC).isoformat()
    return [
        {"id": t["approval_id"], "created_at": when, "confirmation": None, "tool_execution": t}
        for t in tools
        if t.get("approval_id") and t.get("status") == "pending"
    ]


def _tool_aliases(tool: dict[str, Any]) -> dict[str, Any]:
    error = tool.get("error")
    tool.update(
        tool_call_id=tool["id"],
        tool_name=tool["name"],
        tool_args=tool["args"],
        tool_call_error=tool["status"] in ("error", "rejected"),
        requires_confirmation=tool.get("approval_id") is not None or None,
    )
    if error is not None:
        tool["result"] = error
    elif tool.get("result") is not None and not isinstance(tool["result"], str):
        tool["result"] = _text(tool["result"])
    return tool


def approval_dict(approval: ApprovalRequest) -> dict[str, Any]:
    """Our approval row, plus AgentOS's ``ApprovalResponse`` names."""
    data = approval.to_dict()
    data.update(
        id=approval.approval_id,
        source_type="agent",
        approval_type="required",
        pause_type="confirmation",
        tool_args=approval.args,
        user_id=approval.requested_by,
        resolved_by=approval.decided_by,
        resolved_at=_epoch(approval.decided_at),
        created_at=_epoch(approval.requested_at),
    )
    return data


def _model_info(agent: Agent) -> dict[str, Any]:
    model = agent.model
    provider = PROVIDERS.get(model.provider, model.provider)
    return {"id": model.id, "provider": provider, "name": type(model).__name__}


def agent_summary(agent: Agent, db_id: str) -> dict[str, Any]:
    info = _model_info(agent)
    return {
        "id": agent.id,
        "name": agent.name,
        "description": agent.description,
        "db_id": db_id,
        "model": {"id": info["id"], "provider": info["provider"]},
    }


def agent_detail(agent: Agent, db_id: str) -> dict[str, Any]:
    """``GET /agents/{id}``: AgentOS's ``AgentResponse`` plus each tool's approval policy."""
    info = _model_info(agent)
    tools = []
    for definition in agent.tool_definitions:
        tool = agent.tools_by_name.get(definition.name)
        policy = agent.approvals.get(definition.name, tool.approval if tool else None)
        tools.append(
            {
                "name": definition.name,
                "description": definition.description,
                "parameters": definition.input_schema,
                "approval": _policy(policy),
                "requires_confirmation": _policy(policy) is not None,
            }
        )
    instructions = agent.instructions
    steps = instructions or []
    return {
        "id": agent.id,
        "name": agent.name,
        "db_id": db_id,
        "description": agent.description,
        "model": {"name": info["name"], "model": info["id"], "provider": info["provider"]},
        "tools": {"tools": tools},
        "sessions": {
            "session_table": "sessions",
            "add_history_to_context": agent.add_history_to_context,
            "num_history_runs": agent.num_history_runs,
        },
        "system_message": {
            "instructions": instructions if isinstance(instructions, str) else list(steps),
            "markdown": agent.markdown,
        },
        "approvals": {pattern: _policy(spec) for pattern, spec in agent.approvals.items()},
    }


def _policy(spec: Any) -> str | None:
    if spec is None or spec == "auto":
        return None
    if isinstance(spec, str):
        return spec
    role = getattr(spec, "role", None)
    return role if isinstance(role, str) else "dynamic"


def session_summary(record: SessionRecord, name: str = "") -> dict[str, Any]:
    return {
        "session_id": record.session_id,
        "session_name": name or record.session_id,
        "session_type": "agent",
        "session_state": record.state or None,
        "user_id": record.user_id,
        "agent_id": record.agent_id,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def session_detail(record: SessionRecord, runs: Sequence[RunOutput]) -> dict[str, Any]:
    """AgentOS's ``AgentSessionDetailSchema``; ``runs`` oldest first."""
    history: list[dict[str, Any]] = []
    tokens = 0
    for run in runs:
        history.extend(messages_dicts(run.messages))
        tokens += run.usage.total_tokens
    return {
        **session_summary(record, runs[0].input[:80] if runs else ""),
        "agent_session_id": record.session_id,
        "total_tokens": tokens,
        "metrics": {"total_tokens": tokens, "runs": len(runs)},
        "chat_history": history,
    }
