"""Tool results are made strict JSON at the tool boundary; a failed save never leaves a run
``running``."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import pytest
from pydantic import BaseModel

from agno_nb import Agent, FunctionModel, tool
from agno_nb.events import RunError
from agno_nb.exceptions import ModelError
from agno_nb.messages import Message, ToolCallPart
from agno_nb.models._anthropic_messages import to_anthropic_messages
from agno_nb.models.function import AgentInfo
from agno_nb.run import RunOutput
from agno_nb.storage.duckdb import DuckDBStore


def _call_then_answer(*calls: ToolCallPart) -> FunctionModel:
    def play(messages: list[Message], info: AgentInfo) -> list[ToolCallPart] | str:
        if len(messages) == 1:
            return list(calls)
        return " | ".join(
            f"{p.name}:{'ERR' if p.is_error else 'OK'}"  # type: ignore[union-attr]
            for p in messages[-1].parts
        )

    return FunctionModel(play)


def test_a_self_referencing_result_is_a_tool_error_and_the_run_completes(db_path: str) -> None:
    @tool
    def loop() -> dict[str, Any]:
        """Return a dict that contains itself."""
        data: dict[str, Any] = {"name": "loop"}
        data["self"] = data
        return data

    @tool
    def fine() -> dict[str, int]:
        return {"n": 1}

    model = _call_then_answer(ToolCallPart("c1", "loop", {}), ToolCallPart("c2", "fine", {}))
    agent = Agent("t", model=model, tools=[loop, fine], db=db_path)
    events = list(agent.run("go", stream=True))
    run = events[-1].run  # type: ignore[union-attr]
    assert run.status == "completed" and run.content == "loop:ERR | fine:OK"
    assert run.tool_calls[0].error == (
        "Tool 'loop' returned a value that cannot be encoded as JSON: circular reference"
    )
    assert [type(e).__name__ for e in events].count("ToolCallError") == 1
    assert agent.store is not None
    stored = agent.store.get_run(run.run_id)
    assert stored is not None and stored.status == "completed"


class Colour(enum.Enum):
    RED = "red"


class Point(BaseModel):
    x: float
    seen: datetime


class Opaque:
    def __str__(self) -> str:
        return "an opaque thing"


@dataclasses.dataclass
class Box:
    label: str
    sizes: tuple[int, ...]


def test_results_are_made_strict_json_and_what_cannot_be_is_a_clear_error() -> None:
    when = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    key = uuid.UUID(int=7)

    @tool
    def mixed() -> dict[str, Any]:
        return {
            "nan": math.nan,
            "inf": [math.inf, -math.inf, 1.5],
            "text": b"caf\xc3\xa9",
            "tags": {"b", "a"},
            "when": when,
            "day": date(2026, 12, 1),
            "money": Decimal("12.50"),
            "id": key,
            "path": PurePosixPath("/tmp/x"),
            "colour": Colour.RED,
            "point": Point(x=math.nan, seen=when),
            "box": Box("b", (1, 2)),
            1: "int key",
            (1, 2): "tuple key",
            "other": Opaque(),  # anything else: its text
        }

    @tool
    def binary() -> bytes:
        return b"\xff\xfe\x00"

    @tool
    def nan() -> float:
        return math.nan

    @tool
    def deep() -> list[Any]:
        value: list[Any] = []
        for _ in range(100_000):
            value = [value]
        return value

    model = _call_then_answer(
        ToolCallPart("c1", "mixed", {}),
        ToolCallPart("c2", "binary", {}),
        ToolCallPart("c3", "nan", {}),
        ToolCallPart("c4", "deep", {}),
    )
    run = Agent("t", model=model, tools=[mixed, binary, nan, deep], db=None).run("go")
    assert run.status == "completed"
    result = run.tool_calls[0].result
    assert json.loads(json.dumps(result, allow_nan=False)) == result  # strict JSON as is
    assert result == {
        "nan": "NaN",
        "inf": ["Infinity", "-Infinity", 1.5],
        "text": "café",
        "tags": ["a", "b"],
        "when": "2026-12-01T09:30:00+00:00",
        "day": "2026-12-01",
        "money": "12.50",
        "id": str(key),
        "path": "/tmp/x",
        "colour": "red",
        "point": {"x": "NaN", "seen": "2026-12-01T09:30:00Z"},
        "box": {"label": "b", "sizes": [1, 2]},
        "1": "int key",
        "(1, 2)": "tuple key",
        "other": "an opaque thing",
    }
    assert run.tool_calls[1].error == (
        "Tool 'binary' returned a value that cannot be encoded as JSON: 3 bytes that are not "
        "UTF-8 text (return str, or base64-encode them)"
    )
    assert run.tool_calls[2].result == "NaN"
    assert run.tool_calls[3].error == (
        "Tool 'deep' returned a value that cannot be encoded as JSON: nested too deeply"
    )
    assert [t.error_type for t in run.tool_calls] == [
        None,
        "ToolResultError",
        None,
        "ToolResultError",
    ]
    # what the model gets is strict JSON too
    for message in to_anthropic_messages(run.messages):
        json.dumps(message, allow_nan=False)


async def test_results_that_are_already_json_are_kept_as_they_are() -> None:
    payload = {"rows": [{"id": i, "score": i / 3} for i in range(50)], "ok": True}

    @tool
    def rows() -> dict[str, Any]:
        return payload

    run = await Agent("t", model=_call_then_answer(ToolCallPart("c1", "rows", {})),
                      tools=[rows], db=False).arun("go")  # fmt: skip
    assert run.tool_calls[0].result is payload


class FailingSaves(DuckDBStore):
    """A store whose durable saves (those of a failed run) fail ``fails`` times."""

    def __init__(self, path: str, fails: int) -> None:
        super().__init__(path)
        self.fails = fails

    def save_run(self, run: RunOutput, *, durable: bool = False) -> None:
        if durable and self.fails > 0:
            self.fails -= 1
            raise ValueError("Circular reference detected")
        super().save_run(run, durable=durable)


def _broken_model() -> FunctionModel:
    def play(messages: list[Message], info: AgentInfo) -> str:
        raise ModelError("function: the model broke")

    return FunctionModel(play)


@pytest.mark.parametrize("fails", [1, 2])
async def test_a_failed_save_of_a_failed_run_still_ends_it_failed(db_path: str, fails: int) -> None:
    store = FailingSaves(db_path, fails=fails)
    agent = Agent("t", model=_broken_model(), db=store)
    events = [e async for e in agent.arun("go", stream=True)]
    final = events[-1]
    assert isinstance(final, RunError) and final.run is not None
    run = final.run
    assert run.status == "failed" and run.error_type == "ModelError"
    assert run.error == (
        "function: the model broke (and saving the failed run failed: "
        "ValueError: Circular reference detected)"
    )
    stored = store.get_run(run.run_id)
    assert stored is not None
    if fails == 1:  # saved again without its messages: the row is failed, not running
        assert stored.status == "failed" and stored.error == run.error
        assert stored.messages == []
    else:  # the store cannot be written at all: the row stays as last saved
        assert stored.status == "running"
    with pytest.raises(ModelError, match="the model broke"):
        await Agent("t", model=_broken_model(), db=FailingSaves(db_path, fails=1)).arun("go")
    store.close()


async def test_a_failed_save_of_a_crashed_run_keeps_the_original_error(db_path: str) -> None:
    @tool
    def crash() -> str:
        return "fine"

    def play(messages: list[Message], info: AgentInfo) -> list[ToolCallPart] | str:
        if len(messages) == 1:
            return [ToolCallPart("c1", "crash", {})]
        raise KeyError("a bug in the model function")

    store = FailingSaves(db_path, fails=1)
    agent = Agent("t", model=FunctionModel(play), tools=[crash], db=store)
    with pytest.raises(KeyError, match="a bug in the model function") as raised:
        await agent.arun("go")
    assert "saving the failed run failed: ValueError" in "".join(raised.value.__notes__)
    runs = store.list_runs()
    assert [r.status for r in runs] == ["failed"]
    store.close()
