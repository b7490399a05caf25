"""From a validated ``AgentSpec`` to an ``Agent``, and from an ``Agent`` back to YAML.

The two directions of :mod:`agno_nb._yaml` live here: ``build_agent`` resolves names in a
namespace (tools, output schemas) and reports what it cannot resolve with the line of the
key; ``agent_to_dict`` writes only what differs from ``Agent``'s defaults.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from agno_nb._yaml import (
    AgentSpec,
    ApprovalPolicy,
    MCPSpec,
    ModelSpec,
    near_keyword,
    parse_duration,
    parse_spec,
)
from agno_nb.exceptions import AgentDefinitionError

if TYPE_CHECKING:
    from agno_nb._yaml import _Marks
    from agno_nb.agent import Agent
    from agno_nb.models import Model

__all__ = ["agent_from_yaml", "agent_to_dict", "agent_to_yaml", "build_agent", "dump"]

Problems = list[tuple[int | None, str, str]]

#: keys written in this order, each only when it differs from Agent's default
_SIMPLE = (
    "markdown", "add_history_to_context", "num_history_runs", "self_approval",
    "policy_error_role", "max_turns", "tool_timeout", "output_retries", "user_id", "session_id",
)  # fmt: skip
_MODEL_OPTIONS = ("base_url", "max_tokens", "temperature", "timeout", "max_retries")


def _did_you_mean(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _resolve_tool(name: str, ns: dict[str, Any]) -> Any:
    from agno_nb.tools import Tool

    value = ns.get(name)
    if isinstance(value, Tool) or (callable(value) and not isinstance(value, type)):
        return value
    for candidate in ns.values():  # a Tool bound to another variable name
        if isinstance(candidate, Tool) and candidate.name == name:
            return candidate
    tools = [k for k, v in ns.items() if isinstance(v, Tool)]
    if value is not None:
        raise LookupError(f"{name!r} in the namespace is a {type(value).__name__}, not a tool")
    listed = ", ".join(sorted(tools)) or "none"
    raise LookupError(
        f"no tool named {name!r} in the namespace{_did_you_mean(name, tools)}; "
        f"tools defined: {listed}"
    )


def _keyword(policy: str) -> str:
    """``policy`` (a keyword or a role name), refused when it is a near miss of a keyword:
    a role of that name is written ``{role: NAME}``."""
    keyword = near_keyword(policy)
    if keyword is not None:
        raise ValueError(
            f"{policy!r} is not an approval keyword (did you mean {keyword!r}?); "
            f"for a role of that name write {{role: {policy}}}"
        )
    return policy


def _model(spec: str | ModelSpec | None) -> Model | str | None:
    if not isinstance(spec, ModelSpec):
        if spec is not None:
            from agno_nb.models import parse_model_string

            parse_model_string(spec)  # a provider typo, with this line
        return spec
    from agno_nb.models.anthropic import Claude

    provider, sep, model_id = spec.id.partition(":")
    if sep and provider != "anthropic":
        raise ValueError(f"options are only supported for anthropic models, not {provider!r}")
    options = {k: getattr(spec, k) for k in _MODEL_OPTIONS if getattr(spec, k) is not None}
    return Claude(model_id if sep else spec.id, **options)


def _mcp(spec: MCPSpec) -> Any:
    from agno_nb.mcp import MCPTools

    options = {k: v for k, v in spec.model_dump(exclude={"command", "args"}).items() if v}
    policy = options.get("approval")
    if isinstance(policy, str):
        _keyword(policy)
    elif isinstance(policy, dict):
        for value in policy.values():
            _keyword(value)
    if spec.command is not None:
        return MCPTools(spec.command, args=spec.args, **options)
    return MCPTools(**options)


def build_agent(
    spec: AgentSpec, marks: _Marks, ns: dict[str, Any], name: str | None, cls: type[Agent]
) -> Agent:
    """The ``cls`` agent a spec describes; every unresolved name is reported, with its
    line."""
    from pydantic import BaseModel

    from agno_nb.approvals import Approval

    problems: Problems = []

    def attempt(path: tuple[str | int, ...], key: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (LookupError, ValueError, TypeError) as exc:
            problems.append((marks.line(path), key, str(exc)))
            return None

    kwargs: dict[str, Any] = {}
    for field in ("id", "description", "instructions", *_SIMPLE):
        if field in spec.model_fields_set:
            kwargs[field] = getattr(spec, field)
    if spec.model is not None:
        kwargs["model"] = attempt(("model",), "model", lambda: _model(spec.model))
    tools = [
        attempt(("tools", i), f"tools[{i}]", lambda t=t: _resolve_tool(t, ns))  # type: ignore[misc]
        for i, t in enumerate(spec.tools)
    ]
    tools += [
        attempt(("mcp", i), f"mcp[{i}]", lambda m=m: _mcp(m))  # type: ignore[misc]
        for i, m in enumerate(spec.mcp)
    ]
    kwargs["tools"] = tools
    approvals: dict[str, Any] = {}
    for pattern, policy in spec.approvals.items():
        if isinstance(policy, ApprovalPolicy):
            expires = policy.expires_in
            delta = attempt(
                ("approvals", pattern, "expires_in"),
                f"approvals.{pattern}.expires_in",
                lambda e=expires: None if e is None else parse_duration(e),  # type: ignore[misc]
            )
            approvals[pattern] = Approval(role=policy.role, expires_in=delta)
        else:
            check = functools.partial(_keyword, policy)
            approvals[pattern] = attempt(("approvals", pattern), f"approvals.{pattern}", check)
    if approvals:
        kwargs["approvals"] = approvals
    if spec.output_schema is not None:

        def schema() -> type[BaseModel]:
            value = ns.get(str(spec.output_schema))
            if isinstance(value, type) and issubclass(value, BaseModel):
                return value
            models = [k for k, v in ns.items() if isinstance(v, type) and issubclass(v, BaseModel)]
            raise LookupError(
                f"no pydantic model named {spec.output_schema!r} in the namespace"
                + _did_you_mean(str(spec.output_schema), models)
            )

        kwargs["output_schema"] = attempt(("output_schema",), "output_schema", schema)
    if "db" in spec.model_fields_set:
        if spec.db is True:
            problems.append(
                (marks.line(("db",)), "db", "give a path, null (in memory) or false (no store)")
            )
        kwargs["db"] = spec.db
    if problems:
        raise AgentDefinitionError(problems)
    return cls(spec.name or name or "agent", **kwargs)


# -- writing ---------------------------------------------------------------------------


def _defaults(cls: type[Agent]) -> dict[str, Any]:
    params = inspect.signature(cls.__init__).parameters
    return {name: p.default for name, p in params.items()}


def _model_to_yaml(model: Model, omitted: list[str]) -> str | dict[str, Any]:
    from agno_nb.models.anthropic import Claude
    from agno_nb.models.test import TestModel

    if type(model) is TestModel:
        return "test"
    if isinstance(model, Claude):
        reference = Claude()
        options = {
            k: getattr(model, k)
            for k in _MODEL_OPTIONS
            if getattr(model, k) != getattr(reference, k)
        }
        name = f"anthropic:{model.id}"
        if model.client is not None:  # an injected SDK client cannot be written
            omitted.append("model.client")
        return {"id": name, **options} if options else name
    raise ValueError(
        f"the model {model!r} cannot be written as YAML: use 'anthropic:<id>' or 'test'"
    )


def _tool_name(spec: Any) -> str:
    from agno_nb.tools import Tool

    if isinstance(spec, Tool):
        return spec.name
    name = getattr(spec, "__name__", None)
    if not isinstance(name, str):
        raise ValueError(f"the tool {spec!r} cannot be written as YAML")
    return name


_SECRET = re.compile(r"auth|token|key|secret|password|passwd|credential|cookie", re.I)


def _mcp_to_yaml(toolset: Any, index: int, omitted: list[str]) -> dict[str, Any]:
    from agno_nb.mcp import MCPTools

    if not isinstance(toolset, MCPTools) or toolset.server is not None:
        raise ValueError(f"the toolset {toolset!r} cannot be written as YAML")
    if toolset.auth is not None:
        omitted.append(f"mcp[{index}].auth")
    config: dict[str, Any] = {}
    for field in MCPSpec.model_fields:
        value = getattr(toolset, field, None)
        if field in ("env", "headers") and value:
            secret = sorted(k for k in value if _SECRET.search(k))
            omitted += [f"mcp[{index}].{field}.{k}" for k in secret]
            value = {k: v for k, v in value.items() if k not in secret}
        if field == "cwd" and value is not None:
            value = str(value)
        if field == "name" and value == _default_mcp_name(toolset):
            continue
        if field == "approval" and not isinstance(value, str | dict | type(None)):
            raise ValueError(f"the approval policy of {toolset!r} is code: not writable")
        if value not in (None, "", [], {}):
            config[field] = list(value) if isinstance(value, tuple) else value
    return config


def _default_mcp_name(toolset: Any) -> str | None:
    from agno_nb.mcp import MCPTools

    probe = MCPTools(toolset.command, args=toolset.args) if toolset.command else None
    return probe.name if probe is not None else MCPTools(url=toolset.url).name


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _approval_to_yaml(pattern: str, spec: Any) -> Any:
    from agno_nb.approvals import Approval

    if spec is None or isinstance(spec, str):
        if spec and near_keyword(spec):  # a role that looks like a typo of a keyword
            return {"role": spec}
        return spec or "auto"
    if isinstance(spec, Approval):
        if spec.expires_in is None and not near_keyword(spec.role):
            return spec.role
        if spec.expires_in is None:
            return {"role": spec.role}
        return {"role": spec.role, "expires_in": _duration(spec.expires_in.total_seconds())}
    raise ValueError(f"the approval policy for {pattern!r} is code: it cannot be written as YAML")


def _db_to_yaml(db: Any) -> Any:
    import os

    from agno_nb.storage.protocol import Store

    if db is None or db is False or isinstance(db, str | os.PathLike):
        return os.fspath(db) if isinstance(db, os.PathLike) else db
    if isinstance(db, Store):
        return None if db.path == ":memory:" else db.path
    raise ValueError(f"the store {db!r} cannot be written as YAML")


def agent_to_dict(agent: Agent, omitted: list[str] | None = None) -> dict[str, Any]:
    """The YAML mapping of ``agent``; raises ``ConfigError`` for what YAML cannot hold
    (a code model, a callable approval policy, an in-process toolset). The secrets left
    out are appended to ``omitted``."""
    omitted = [] if omitted is None else omitted
    from agno_nb.exceptions import ConfigError
    from agno_nb.tools import is_toolset

    defaults = _defaults(type(agent))
    try:
        data: dict[str, Any] = {"name": agent.name}
        if agent.id != agent.name.strip().lower().replace(" ", "-"):
            data["id"] = agent.id
        if agent.description:
            data["description"] = agent.description
        data["model"] = _model_to_yaml(agent.model, omitted)
        if agent.instructions:
            ins = agent.instructions
            data["instructions"] = ins if isinstance(ins, str) else list(ins)
        tools = [t for t in agent.tool_specs if not is_toolset(t)]
        if tools:
            data["tools"] = [_tool_name(t) for t in tools]
        if agent.toolsets:
            data["mcp"] = [_mcp_to_yaml(t, i, omitted) for i, t in enumerate(agent.toolsets)]
        if agent.approvals:
            data["approvals"] = {p: _approval_to_yaml(p, s) for p, s in agent.approvals.items()}
        for name in _SIMPLE:
            value = getattr(agent, name)
            if value != defaults[name]:
                data[name] = value
        if agent.output_schema is not None:
            data["output_schema"] = agent.output_schema.__name__
        if agent.db is not defaults["db"]:
            data["db"] = _db_to_yaml(agent.db)
    except ValueError as exc:
        raise ConfigError(f"Agent {agent.name!r} cannot be written as YAML: {exc}") from exc
    return data


def dump(data: dict[str, Any], omitted: list[str] | None = None) -> str:
    """YAML in block style, keys in the given order, multi-line strings as ``|`` blocks;
    a first comment line lists the ``omitted`` secrets."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    out: str = yaml.dump(
        data, Dumper=Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    if omitted:
        out = f"# left out (secrets; set them again): {', '.join(omitted)}\n" + out
    return out


def agent_from_yaml(
    text: str,
    namespace: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    line_offset: int = 0,
    cls: type[Agent],
) -> Agent:
    """Build a ``cls`` agent from a YAML body; tool and schema names are looked up in
    ``namespace``. Raises ``AgentDefinitionError`` pointing at the line and key."""
    spec, marks = parse_spec(text, line_offset=line_offset)
    return build_agent(spec, marks, dict(namespace or {}), name, cls)


def agent_to_yaml(agent: Agent) -> str:
    """The YAML body that recreates ``agent`` (what ``Agent.to_yaml()`` returns)."""
    omitted: list[str] = []
    data = agent_to_dict(agent, omitted)
    return dump(data, omitted)
