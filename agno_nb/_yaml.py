"""Agents as YAML: the body of ``%%agent_def`` and what ``Agent.to_yaml()`` writes.

::

    name: support                       # default: the NAME given to %%agent_def
    model: anthropic:claude-sonnet-4-6  # or {id: ..., base_url: ..., max_tokens: ...}
    description: Customer support for ACME.
    instructions: |
      Be brief. Always look the order up first.
    tools: [lookup_order, refund]       # names of tools in the namespace
    mcp:                                # MCP servers (agno_nb.mcp.MCPTools)
      - {command: uvx, args: [mcp-server-time], prefix: time_, approval: required}
      - {url: "http://127.0.0.1:8000/mcp", include_tools: [search]}
    approvals: {refund: required, "delete_*": {role: admin, expires_in: 1h}}
    db: agents.duckdb                   # a path; null = in memory; false = no store
    add_history_to_context: true
    num_history_runs: 5
    markdown: true

Errors name the line and the key (``line 4, tools[1]: no tool named 'refnd' ...``).
``agent_to_yaml`` writes only what differs from the defaults, and what it writes builds
the same agent again. Secrets are never written: no API key, and no MCP header or
environment variable whose name looks like one (``Authorization``, ``*TOKEN*``, ``*KEY*``,
...); a comment at the top lists what was left out.
"""

from __future__ import annotations

import difflib
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from agno_nb.exceptions import AgentDefinitionError

if TYPE_CHECKING:
    pass

__all__ = ["APPROVAL_KEYWORDS", "AgentSpec", "near_keyword", "parse_spec"]

Path = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    id: str
    base_url: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float | None = None
    max_retries: int | None = None


class MCPSpec(_Strict):
    command: str | None = None
    args: list[str] = []
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None
    name: str | None = None
    prefix: str | None = None
    include_tools: list[str] | None = None
    exclude_tools: list[str] | None = None
    approval: str | dict[str, str] | None = None

    @model_validator(mode="after")
    def _one_transport(self) -> MCPSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("an MCP server needs either 'command' (stdio) or 'url' (HTTP)")
        return self


class ApprovalPolicy(_Strict):
    role: str = "required"
    expires_in: float | str | None = None


class AgentSpec(_Strict):
    """The validated YAML body."""

    name: str | None = None
    id: str | None = None
    description: str | None = None
    model: str | ModelSpec | None = None
    instructions: str | list[str] | None = None
    tools: list[str] = []
    mcp: list[MCPSpec] = []
    approvals: dict[str, str | ApprovalPolicy] = {}
    markdown: bool | None = None
    add_history_to_context: bool | None = None
    num_history_runs: int | None = None
    self_approval: bool | None = None
    max_turns: int | None = None
    tool_timeout: float | None = None
    policy_error_role: str | None = None
    output_retries: int | None = None
    output_schema: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    db: str | bool | None = None


# -- reading -------------------------------------------------------------------------


def _key(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


class _Marks:
    """Line numbers of the YAML nodes, looked up by a pydantic error location."""

    def __init__(self, root: Any, offset: int) -> None:
        self.root, self.offset = root, offset

    def locate(self, loc: Path) -> tuple[int | None, Path]:
        """The line of the deepest node on ``loc`` and the key path that reached it
        (pydantic's union tags such as ``'str'`` are not keys: they are skipped)."""
        import yaml

        node, path = self.root, cast(Path, ())
        if node is None:
            return None, tuple(loc)
        at = node  # the node whose line is reported: a key for a mapping entry
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if k.value == part), None)
                if pair is None:
                    continue
                at, node = pair
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    continue
                at = node = node.value[part]
            else:
                continue
            path = (*path, part)
        return int(at.start_mark.line) + 1 + self.offset, path

    def line(self, loc: Path) -> int | None:
        return self.locate(loc)[0]


def parse_spec(text: str, *, line_offset: int = 0) -> tuple[AgentSpec, _Marks]:
    """Parse and validate a YAML body; ``line_offset`` is added to reported lines (1 for
    the body of a cell magic, whose line 1 is the ``%%`` line)."""
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) if root is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if exc.context_mark is not None and (mark is None or "<stream end>" in str(exc.problem)):
            mark = exc.context_mark  # an unclosed bracket: point where it opened
        line = mark.line + 1 + line_offset if mark is not None else None
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p) or str(exc)
        raise AgentDefinitionError([(line, "YAML", problem)]) from None
    marks = _Marks(root, line_offset)
    if not isinstance(data, dict):
        raise AgentDefinitionError([(marks.line(()), "body", "expected a mapping of keys")])
    try:
        spec = AgentSpec.model_validate(data)
    except ValidationError as exc:
        raise AgentDefinitionError(_problems(exc, marks)) from None
    return spec, marks


def _problems(exc: ValidationError, marks: _Marks) -> list[tuple[int | None, str, str]]:
    located = [(*marks.locate(tuple(e["loc"])), e) for e in exc.errors(include_url=False)]
    paths = [path for _, path, _ in located]
    out: dict[tuple[int | None, str], tuple[int | None, str, str]] = {}
    for line, path, err in located:
        # a union reports one error per member: keep the deepest, then the first
        if any(len(p) > len(path) and p[: len(path)] == path for p in paths):
            continue
        key = _key(path)
        if (line, key) in out:
            continue
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            unknown = str(path[-1])
            known = sorted(_fields_at(path[:-1]))
            close = difflib.get_close_matches(unknown, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"unknown key {unknown!r}{hint}; known keys: {', '.join(known)}"
        out[line, key] = (line, key, msg)
    return sorted(out.values(), key=lambda p: (p[0] or 0, p[1]))


def _fields_at(path: Path) -> set[str]:
    models: dict[str, type[BaseModel]] = {
        "model": ModelSpec, "mcp": MCPSpec, "approvals": ApprovalPolicy,
    }  # fmt: skip
    model = models.get(str(path[0]), AgentSpec) if path else AgentSpec
    return set(model.model_fields)


#: the words of an approval policy that are not role names
APPROVAL_KEYWORDS = ("auto", "required")


def near_keyword(value: str) -> str | None:
    """The approval keyword ``value`` is a near miss of (``requird``, ``Auto``), else None.
    A role with such a name is declared explicitly: ``{role: requird}``."""
    if value in APPROVAL_KEYWORDS:
        return None
    folded = value.strip().lower()
    for keyword in APPROVAL_KEYWORDS:  # one edit for 'auto', two for 'required'
        if _edits(folded, keyword) <= len(keyword) // 4:
            return keyword
    return None


def _edits(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of neighbours from ``a`` to ``b``."""
    previous: list[int] = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous, row = previous, row, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], before[j - 2] + 1)
    return row[-1]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: float | str) -> timedelta:
    """Seconds, or a number with a unit: ``90``, ``30s``, ``15m``, ``1h``, ``2d``."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a duration such as 90, 30s, 15m, 1h or 2d")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])
