"""Conversation parts: what the agent and the model say to each other.

Messages are provider-neutral and JSON-round-trippable (``to_dict`` / ``from_dict``), so
a run's messages can be stored, reloaded in another process, and sent to any model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

__all__ = [
    "Message",
    "Part",
    "TextPart",
    "ToolCallPart",
    "ToolResultPart",
    "Usage",
]


@dataclass(slots=True)
class TextPart:
    """Plain text (Markdown) from the user or the model."""

    text: str
    kind: Literal["text"] = "text"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "text", "text": self.text}


@dataclass(slots=True)
class ToolCallPart:
    """The model asks for one tool call."""

    id: str
    name: str
    args: dict[str, Any]
    kind: Literal["tool_call"] = "tool_call"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "tool_call", "id": self.id, "name": self.name, "args": self.args}


@dataclass(slots=True)
class ToolResultPart:
    """The result (or error) of one tool call, sent back to the model."""

    tool_call_id: str
    name: str
    content: Any
    is_error: bool = False
    kind: Literal["tool_result"] = "tool_result"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "tool_result",
            "tool_call_id": self.tool_call_id,
            "name": self.name,
            "content": self.content,
            "is_error": self.is_error,
        }


Part: TypeAlias = TextPart | ToolCallPart | ToolResultPart


def _part_from_dict(data: dict[str, Any]) -> Part:
    kind = data["kind"]
    if kind == "text":
        return TextPart(data["text"])
    if kind == "tool_call":
        return ToolCallPart(data["id"], data["name"], data["args"])
    if kind == "tool_result":
        return ToolResultPart(
            data["tool_call_id"], data["name"], data["content"], data.get("is_error", False)
        )
    raise ValueError(f"unknown message part kind {kind!r}")


@dataclass(slots=True)
class Message:
    """One turn of the conversation: the user's (prompt or tool results) or the model's."""

    role: Literal["user", "assistant"]
    parts: list[Part]

    @classmethod
    def user(cls, text: str) -> Message:
        return cls("user", [TextPart(text)])

    @property
    def text(self) -> str:
        """The text parts joined."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        return [p for p in self.parts if isinstance(p, ToolCallPart)]

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "parts": [p.to_dict() for p in self.parts]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(data["role"], [_part_from_dict(p) for p in data["parts"]])


@dataclass(slots=True)
class Usage:
    """Token counts, summed over the model requests of a run."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.requests += other.requests

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "requests": self.requests,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Usage:
        return cls(
            input_tokens=data.get("input_tokens", 0),
            output_tokens=data.get("output_tokens", 0),
            cache_read_tokens=data.get("cache_read_tokens", 0),
            cache_write_tokens=data.get("cache_write_tokens", 0),
            requests=data.get("requests", 0),
        )
