"""``TestModel``: calls every tool once with arguments made from its schema, then answers.

No network, no key. Like pydantic-ai's TestModel: it exercises the agent's plumbing
(schemas, validation, approvals, storage) deterministically.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agno_nb.messages import Message, Part, TextPart, ToolCallPart, ToolResultPart, Usage
from agno_nb.models.base import Model, ModelRequest, ModelResponse, TextDelta, estimate_tokens

__all__ = ["TestModel", "example_from_schema"]


class TestModel(Model):
    """A deterministic model for tests.

    First turn: one call to each tool offered (or to ``call_tools``), with arguments
    generated from its JSON schema. Next turn: the answer, ``custom_output_text`` or a JSON
    summary of the tool results. With an ``output_schema``, it answers by calling the
    output tool with generated (or ``custom_output_args``) arguments.
    """

    __test__ = False  # not a pytest class
    provider = "test"

    def __init__(
        self,
        *,
        call_tools: Sequence[str] | str = "all",
        custom_output_text: str | None = None,
        custom_output_args: dict[str, Any] | None = None,
        id: str = "test",
    ) -> None:
        self.call_tools = call_tools
        self.custom_output_text = custom_output_text
        self.custom_output_args = custom_output_args
        self.id = id
        self._counter = 0

    def _next_id(self) -> str:
        self._counter += 1
        return f"test_call_{self._counter}"

    def _turn(self, request: ModelRequest) -> list[Part]:
        results = _results_since_last_prompt(request.messages)
        if results is None:
            wanted = [
                t
                for t in request.tools
                if t.name != request.output_tool
                and (self.call_tools == "all" or t.name in self.call_tools)
            ]
            if wanted:
                return [
                    ToolCallPart(self._next_id(), t.name, example_from_schema(t.input_schema))
                    for t in wanted
                ]
        if request.output_tool:
            spec = next(t for t in request.tools if t.name == request.output_tool)
            args = self.custom_output_args or example_from_schema(spec.input_schema)
            return [ToolCallPart(self._next_id(), spec.name, args)]
        if self.custom_output_text is not None:
            return [TextPart(self.custom_output_text)]
        if not results:
            return [TextPart("success (no tool calls)")]
        return [TextPart(json.dumps(results, default=str))]

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        parts = self._turn(request)
        for part in parts:
            if isinstance(part, TextPart):
                for i in range(0, len(part.text), 16):
                    yield TextDelta(part.text[i : i + 16])
        stop = "tool_use" if any(isinstance(p, ToolCallPart) for p in parts) else "end_turn"
        usage = Usage(
            input_tokens=estimate_tokens([m.to_dict() for m in request.messages]),
            output_tokens=estimate_tokens([p.to_dict() for p in parts]),
            requests=1,
        )
        yield ModelResponse(parts=parts, usage=usage, stop_reason=stop, model_name=self.id)


def _results_since_last_prompt(messages: list[Message]) -> dict[str, Any] | None:
    """Tool results after the last user prompt, or None if no tool ran since it."""
    results: dict[str, Any] = {}
    for message in reversed(messages):
        if message.role == "user":
            found = [p for p in message.parts if isinstance(p, ToolResultPart)]
            if not found:
                return results or None
            for part in found:
                results.setdefault(part.name, part.content)
    return results or None


def example_from_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A value that fits a JSON schema: the first enum value, "a", 0, 0.0, False, ..."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return example_from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_from_schema(options[0], defs)
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        required = schema.get("required", list(props))
        return {k: example_from_schema(v, defs) for k, v in props.items() if k in required}
    if kind == "array":
        items = schema.get("items")
        return [example_from_schema(items, defs)] if items else []
    examples: dict[str, Any] = {
        "string": "a",
        "integer": 0,
        "number": 0.0,
        "boolean": False,
        "null": None,
    }
    return examples.get(kind, "a")
