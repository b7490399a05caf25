"""Models: the ``Model`` base class, what goes in and out of it, and ``infer_model``.

A model streams: ``Model.stream(request)`` yields ``TextDelta``s as the answer arrives and
ends with one ``ModelResponse`` (all parts, usage, stop reason).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agno_nb.exceptions import ConfigError
from agno_nb.messages import Message, Part, TextPart, ToolCallPart, Usage

if TYPE_CHECKING:
    from agno_nb.tools import ToolDefinition

__all__ = ["Model", "ModelRequest", "ModelResponse", "TextDelta", "infer_model"]


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
    response_id: str | None = None

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

    async def request(self, request: ModelRequest) -> ModelResponse:
        """The whole response, without streaming to the caller."""
        response: ModelResponse | None = None
        async for item in self.stream(request):
            if isinstance(item, ModelResponse):
                response = item
        if response is None:  # pragma: no cover - a broken Model subclass
            raise RuntimeError(f"{type(self).__name__}.stream() ended without a ModelResponse")
        return response

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


def infer_model(model: Model | str | None) -> Model:
    """A ``Model`` for ``"anthropic:<id>"``, a bare ``claude-*`` id, ``"test"``, or a Model."""
    if isinstance(model, Model):
        return model
    if model is None:
        model = "anthropic:claude-sonnet-4-6"
    provider, sep, model_id = model.partition(":")
    if not sep:
        provider, model_id = ("test", "") if model == "test" else ("anthropic", model)
    if provider == "anthropic":
        from agno_nb.models.anthropic import Claude

        return Claude(id=model_id)
    if provider == "test":
        from agno_nb.models.test import TestModel

        return TestModel()
    raise ConfigError(
        f"unknown model provider {provider!r} in {model!r}: use 'anthropic:<model id>' "
        "(any Anthropic-compatible server through Claude(base_url=...)) or a Model object"
    )


def estimate_tokens(value: Any) -> int:
    """A rough token count (about four characters a token) for test models."""
    return max(1, len(str(value)) // 4)
