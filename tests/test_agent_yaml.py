"""Agents as YAML (``%%agent_def`` bodies): validation with lines and keys, name
resolution, and the round trip through ``agent_to_yaml``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from agno_nb import Agent, Claude, FunctionModel
from agno_nb._yaml import AgentDefinitionError, agent_from_yaml, agent_to_yaml, parse_duration
from agno_nb.approvals import Approval
from agno_nb.exceptions import ConfigError
from tests.jupyter_support import lookup_order, refund


class Order(BaseModel):
    id: str


NS: dict[str, Any] = {"lookup_order": lookup_order, "refund": refund, "Order": Order}


def problems(body: str, **kwargs: Any) -> list[tuple[int | None, str, str]]:
    with pytest.raises(AgentDefinitionError) as raised:
        agent_from_yaml(body, NS, **kwargs)
    return raised.value.problems


def test_a_full_definition_builds_the_agent() -> None:
    agent = agent_from_yaml(
        """
description: Support.
model: {id: "anthropic:claude-haiku-4-5", base_url: "http://127.0.0.1:9", max_tokens: 512}
instructions: [Be brief., Look orders up first.]
tools: [lookup_order, refund]
approvals: {refund: admin, "delete_*": {role: admin, expires_in: 90m}}
output_schema: Order
add_history_to_context: true
num_history_runs: 5
self_approval: false
db: null
""",
        NS,
        name="support",
    )
    assert agent.name == "support" and agent.description == "Support."
    assert isinstance(agent.model, Claude) and agent.model.base_url == "http://127.0.0.1:9"
    assert agent.model.max_tokens == 512 and agent.model.id == "claude-haiku-4-5"
    assert agent.instructions == ["Be brief.", "Look orders up first."]
    assert agent.approvals["delete_*"] == Approval("admin", timedelta(minutes=90))
    assert agent.output_schema is Order and agent.db is None and not agent.self_approval


def test_errors_point_at_the_line_and_key_and_come_all_at_once() -> None:
    found = problems("model: test\ntols: [a]\nmarkdown: maybe\nmax_turns: many\n", line_offset=1)
    assert [(line, key) for line, key, _ in found] == [
        (3, "tols"),
        (4, "markdown"),
        (5, "max_turns"),
    ]
    assert "did you mean 'tools'?" in found[0][2]
    found = problems("tools:\n  - lookup_order\n  - refnd\n  - Order\noutput_schema: Ordr\n")
    assert [(line, key) for line, key, _ in found] == [
        (3, "tools[1]"),
        (4, "tools[2]"),
        (5, "output_schema"),
    ]
    assert "did you mean 'refund'?" in found[0][2] and "is a ModelMetaclass" in found[1][2]
    assert "did you mean 'Order'?" in found[2][2]


@pytest.mark.parametrize(
    ("body", "line", "key", "message"),
    [
        ("model: test\ntools: [a\n", 2, "YAML", "while parsing a flow sequence"),
        ("- a\n- b\n", 1, "body", "expected a mapping"),
        ("db: true\n", 1, "db", "a path, null (in memory) or false"),
        ("model: {id: x, bse_url: y}\n", 1, "model.bse_url", "did you mean 'base_url'?"),
        ("mcp:\n  - {args: [a]}\n", 2, "mcp[0]", "either 'command' (stdio) or 'url'"),
        ("approvals: {x: {expires_in: soon}}\n", 1, "approvals.x.expires_in", "a duration"),
        ("model: {id: 'test:x', max_tokens: 5}\n", 1, "model", "only supported for anthropic"),
    ],
)
def test_each_kind_of_mistake_is_named(body: str, line: int, key: str, message: str) -> None:
    ((got_line, got_key, got_message),) = problems(body)
    assert (got_line, got_key) == (line, key)
    assert message in got_message


def test_durations_take_units() -> None:
    assert parse_duration(90) == timedelta(seconds=90)
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_to_yaml_writes_only_what_differs_and_round_trips() -> None:
    agent = Agent(
        "support",
        model=Claude("claude-haiku-4-5", base_url="http://127.0.0.1:9", api_key="sk-secret"),
        instructions="Be brief.\nVery.",
        tools=[lookup_order, refund],
        approvals={"refund": "admin", "x_*": Approval("admin", timedelta(hours=1))},
        markdown=True,
        db="agents.duckdb",
    )
    body = agent_to_yaml(agent)
    assert "sk-secret" not in body and "instructions: |" in body and "expires_in: 1h" in body
    assert "max_turns" not in body and "self_approval" not in body
    again = agent_from_yaml(body, NS)
    assert agent_to_yaml(again) == body
    assert again.model.base_url == agent.model.base_url and again.approvals == agent.approvals


def test_mcp_servers_are_built_and_written_without_their_secrets() -> None:
    from agno_nb.mcp import MCPTools

    body = """model: test
mcp:
  - {command: uvx, args: [mcp-server-time], prefix: time_, env: {TZ: UTC, GH_TOKEN: x}}
  - {url: "http://127.0.0.1:8000/mcp", include_tools: [search], headers: {Authorization: b}}
"""
    agent = agent_from_yaml(body, {})
    stdio, http = agent.toolsets
    assert isinstance(stdio, MCPTools) and (stdio.command, stdio.args) == (
        "uvx",
        ["mcp-server-time"],
    )
    assert stdio.prefix == "time_" and stdio.env == {"TZ": "UTC", "GH_TOKEN": "x"}
    assert isinstance(http, MCPTools) and http.include_tools == ["search"]
    written = agent_to_yaml(agent)
    assert written.startswith("# left out (secrets; set them again): mcp[0].env.GH_TOKEN, ")
    assert (
        "GH_TOKEN" not in written.split("\n", 1)[1]
        and "Authorization" not in written.split("\n", 1)[1]
    )
    assert agent_from_yaml(written, {}).toolsets[0].env == {"TZ": "UTC"}


def test_what_yaml_cannot_hold_is_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="cannot be written as YAML: the model"):
        agent_to_yaml(Agent("a", model=FunctionModel(lambda m, i: "hi"), db=False))
    with pytest.raises(ConfigError, match="approval policy for 'refund' is code"):
        agent_to_yaml(Agent("a", model="test", approvals={"refund": lambda call: "admin"}))
