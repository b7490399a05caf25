"""``RunSpec``: the frozen value one run reads, built once by ``Agent``.

The run loop, tool calls and tracing read the spec, never the agent: a cell that changes
the agent (its instructions, tools, policy) while a run is paused or streaming does not
change that run. Toolsets (MCP servers) are resolved inside the run, after it is stored,
into a new spec; the agent's own tool list is replaced, never changed in place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pydantic import BaseModel

    from agno_nb.approvals import ApprovalRules
    from agno_nb.messages import Message
    from agno_nb.models.base import Model
    from agno_nb.storage.protocol import Store
    from agno_nb.tools import Tool, ToolDefinition

__all__ = ["OUTPUT_TOOL", "RunSpec", "tool_definitions"]

#: the tool the model calls to give a structured final answer (``output_schema``)
OUTPUT_TOOL = "final_result"


def tool_definitions(
    tools: list[Tool], output_schema: type[BaseModel] | None
) -> list[ToolDefinition]:
    """What the model is shown: each tool, and the output tool for ``output_schema``."""
    from agno_nb.tools import ToolDefinition

    defs = [t.definition for t in tools]
    if output_schema is not None:
        schema = output_schema.model_json_schema()
        defs.append(ToolDefinition(OUTPUT_TOOL, "Give the final answer.", schema))
    return defs


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """Everything a run needs, fixed when it starts (or continues)."""

    agent_id: str
    agent_name: str
    model: Model
    system_prompt: str | None
    tools_by_name: Mapping[str, Tool]
    tool_definitions: list[ToolDefinition]
    rules: ApprovalRules
    store: Store | None
    history: list[Message]
    output_schema: type[BaseModel] | None = None
    output_retries: int = 1
    max_turns: int = 25
    tool_timeout: float | None = None
    tracing: bool | Literal["otlp"] = True
    #: the agent's tools with its toolsets' (MCP servers), resolved once the run is
    #: stored, so that a server that cannot be reached fails a stored run
    resolve_tools: Callable[[], Awaitable[list[Tool]]] | None = None

    async def resolved(self) -> RunSpec:
        """This spec with the toolsets' current tools (connecting if needed)."""
        if self.resolve_tools is None:
            return self
        tools = await self.resolve_tools()
        by_name = {t.name: t for t in tools}
        return replace(
            self,
            tools_by_name=by_name,
            tool_definitions=tool_definitions(tools, self.output_schema),
            rules=replace(self.rules, tools=by_name),
            resolve_tools=None,
        )
