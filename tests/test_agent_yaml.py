"""Agents as YAML (``%%agent_def`` bodies): validation with lines and keys, name
resolution, and the round trip through ``Agent.from_yaml`` and ``to_yaml``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from agno_nb import Agent, AgentDefinitionError, Claude, FunctionModel
from agno_nb._yaml import parse_duration
from agno_nb._yaml_build import agent_from_yaml
from agno_nb.approvals import Approval
from agno_nb.exceptions import ConfigError
from tests.jupyter_support import lookup_order, refund


class Order(BaseModel):
    id: str


NS: dict[str, Any] = {"lookup_order": lookup_order, "refund": refund, "Order": Order}


def problems(body: str, **kwargs: Any) -> list[tuple[int | None, str, str]]:
    with pytest.raises(AgentDefinitionError) as raised:
        agent_from_yaml(body, NS, cls=Agent, **kwargs)
    return raised.value.problems


def test_a_full_definition_builds_the_agent() -> None:
    agent = Agent.from_yaml(
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
        ("model: antropic:claude-x\n", 1, "model", "(did you mean 'anthropic'?); known prov"),
        ("approvals: {refund: requird}\n", 1, "approvals.refund", "did you mean 'required'?"),
        ("approvals:\n  refund: Auto\n", 2, "approvals.refund", "did you mean 'auto'?"),
        ("mcp:\n  - {command: x, approval: requierd}\n", 2, "mcp[0]", "mean 'required'?"),
        ("mcp:\n  - {command: x, approval: {'w*': reqired}}\n", 2, "mcp[0]", "'required'?"),
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
    body = agent.to_yaml()
    assert "sk-secret" not in body and "instructions: |" in body and "expires_in: 1h" in body
    assert "max_turns" not in body and "self_approval" not in body
    again = Agent.from_yaml(body, NS)
    assert again.to_yaml() == body
    assert again.model.base_url == agent.model.base_url and again.approvals == agent.approvals


def test_mcp_servers_are_built_and_written_without_their_secrets() -> None:
    from agno_nb.mcp import MCPTools

    body = """model: test
mcp:
  - {command: uvx, args: [mcp-server-time], prefix: time_, env: {TZ: UTC, GH_TOKEN: x}}
  - {url: "http://127.0.0.1:8000/mcp", include_tools: [search], headers: {Authorization: b}}
"""
    agent = Agent.from_yaml(body, {})
    stdio, http = agent.toolsets
    assert isinstance(stdio, MCPTools) and (stdio.command, stdio.args) == (
        "uvx",
        ["mcp-server-time"],
    )
    assert stdio.prefix == "time_" and stdio.env == {"TZ": "UTC", "GH_TOKEN": "x"}
    assert isinstance(http, MCPTools) and http.include_tools == ["search"]
    written = agent.to_yaml()
    assert written.startswith("# left out (secrets; set them again): mcp[0].env.GH_TOKEN, ")
    assert (
        "GH_TOKEN" not in written.split("\n", 1)[1]
        and "Authorization" not in written.split("\n", 1)[1]
    )
    assert Agent.from_yaml(written).toolsets[0].env == {"TZ": "UTC"}


def test_what_yaml_cannot_hold_is_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="cannot be written as YAML: the model"):
        Agent("a", model=FunctionModel(lambda m, i: "hi"), db=False).to_yaml()
    with pytest.raises(ConfigError, match="approval policy for 'refund' is code"):
        Agent("a", model="test", approvals={"refund": lambda call: "admin"}).to_yaml()


def test_tool_timeout_and_the_policy_error_role_round_trip() -> None:
    agent = Agent.from_yaml(
        "name: s\nmodel: test\ntool_timeout: 2.5\npolicy_error_role: security\n", NS
    )
    assert (agent.tool_timeout, agent.policy_error_role) == (2.5, "security")
    again = Agent.from_yaml(agent.to_yaml(), NS)
    assert (again.tool_timeout, again.policy_error_role) == (2.5, "security")


def test_a_near_miss_of_a_keyword_is_refused_but_a_role_can_say_it_is_one() -> None:
    ((line, key, message),) = problems("approvals:\n  refund: requird\n", line_offset=1)
    assert (line, key) == (3, "approvals.refund")
    assert message == (
        "'requird' is not an approval keyword (did you mean 'required'?); "
        "for a role of that name write {role: requird}"
    )
    agent = Agent.from_yaml(
        "model: test\napprovals:\n  refund: {role: requird}\n  lookup_order: auditor\n", NS
    )
    assert agent.approvals == {"refund": Approval("requird"), "lookup_order": "auditor"}
    body = agent.to_yaml()
    assert "refund:\n    role: requird" in body and "lookup_order: auditor" in body
    assert Agent.from_yaml(body, NS).approvals == agent.approvals
    coded = Agent("a", model="test", approvals={"refund": "Required"}, db=False).to_yaml()
    assert Agent.from_yaml(coded, NS).approvals == {"refund": Approval("Required")}
