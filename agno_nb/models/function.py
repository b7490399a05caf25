"""``FunctionModel``: a Python function plays the model (for tests and demos)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeAlias

from agno_nb.messages import Message, Part, TextPart, Usage
from agno_nb.models.base import Model, ModelRequest, ModelResponse, TextDelta, estimate_tokens
from agno_nb.tools import ToolDefinition

__all__ = ["AgentInfo", "FunctionModel"]


@dataclass(slots=True, kw_only=True)
class AgentInfo:
    """What the function sees besides the messages."""

    system: str | None
    tools: list[ToolDefinition] = field(default_factory=list)
    output_tool: str | None = None


FunctionResult: TypeAlias = ModelResponse | str | list[Part]
ModelFunction: TypeAlias = Callable[
    [list[Message], AgentInfo], FunctionResult | Awaitable[FunctionResult]
]


class FunctionModel(Model):
    """A model whose every turn is computed by ``function(messages, info)``.

    The function returns a ``ModelResponse``, a string (the answer), or a list of parts
    (``TextPart``, ``ToolCallPart``). It may be async. Text is streamed word by word.
    """

    provider = "function"

    def __init__(self, function: ModelFunction, *, id: str = "function") -> None:
        self.function = function
        self.id = id

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        info = AgentInfo(
            system=request.system, tools=request.tools, output_tool=request.output_tool
        )
        result = self.function(list(request.messages), info)
        if inspect.isawaitable(result):
            result = await result
        response = _as_response(result, request, self.id)
        for part in response.parts:
            if isinstance(part, TextPart):
                for word in _chunks(part.text):
                    yield TextDelta(word)
        yield response


def _chunks(text: str) -> list[str]:
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]] if text else []


def _as_response(result: FunctionResult, request: ModelRequest, model_id: str) -> ModelResponse:
    if isinstance(result, ModelResponse):
        response = result
    else:
        parts: list[Part] = [TextPart(result)] if isinstance(result, str) else list(result)
        stop = "tool_use" if any(p.kind == "tool_call" for p in parts) else "end_turn"
        response = ModelResponse(parts=parts, stop_reason=stop)
    if response.usage.requests == 0:
        response.usage = Usage(
            input_tokens=estimate_tokens([m.to_dict() for m in request.messages]),
            output_tokens=estimate_tokens([p.to_dict() for p in response.parts]),
            requests=1,
        )
    response.model_name = response.model_name or model_id
    return response
