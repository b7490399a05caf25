"""The ``Model`` base class and what goes in and out of it (a leaf: model adapters and
the run loop import it; ``agno_nb.models`` re-exports it with ``infer_model``).

A model streams: ``Model.stream(request)`` yields ``TextDelta``s as the answer arrives and
ends with one ``ModelResponse`` (all parts, usage, stop reason).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agno_nb.messages import Message, Part, TextPart, ToolCallPart, Usage

if TYPE_CHECKING:
    from agno_nb.tools import ToolDefinition

__all__ = ["Model", "ModelRequest", "ModelResponse", "TextDelta", "estimate_tokens"]


@dataclass(slots=True)
class TextDelta:
    """A piece of streamed text."""

    text: str


@dataclass(slots=True, kw_only=True)
class ModelRequest:
    """One request to a model: system prompt, conversation and the tools on offer."""

    system: str | None
    messages: list[Message]
    tools: list[ToolDefinition] = field(default_factory=list)
    output_tool: str | None = None


@dataclass(slots=True, kw_only=True)
class ModelResponse:
    """One complete model turn."""

    parts: list[Part]
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    model_name: str | None = None

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        return [p for p in self.parts if isinstance(p, ToolCallPart)]


class Model(ABC):
    """A language model the agent can talk to."""

    #: the model's id as its provider names it, e.g. ``claude-sonnet-4-6``
    id: str
    #: who serves it: ``anthropic``, ``test``, ``function``
    provider: str

    @abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        """Yield text deltas, then exactly one ``ModelResponse``."""

    async def warm_up(self) -> None:
        """Get ready to answer on the running loop (a server calls this before its first
        request: an SDK client to build, its imports). Never raises for want of
        configuration: the first request reports that."""
        return

    def secrets(self) -> tuple[str, ...]:
        """Credentials this model holds (API keys given to it), so that traces and logs
        can hide them; never written anywhere."""
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


def estimate_tokens(value: Any) -> int:
    """A rough token count (about four characters a token) for test models."""
    return max(1, len(str(value)) // 4)
