"""HTML, Markdown and plain-text pictures of runs, tool calls, agents and approvals.

Pure functions of agno-nb objects (no IPython here), used by the streaming view, the rich
reprs and the widgets. Tool calls are compact ``<details>`` rows: name, arguments, result
or error, duration. MCP results (``{"type": "mcp_result", "content": [...]}``) show their
text blocks and their images inline.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agno_nb.agent import Agent
    from agno_nb.approvals import ApprovalRequest
    from agno_nb.messages import Usage
    from agno_nb.run import RunOutput, ToolExecution

__all__ = [
    "Footer",
    "agent_html",
    "agent_text",
    "approval_html",
    "approval_text",
    "error_html",
    "footer_html",
    "footer_text",
    "pretty_json",
    "run_markdown",
    "run_text",
    "table_html",
    "table_text",
    "tool_html",
    "tool_text",
]

_MUTED = "color: var(--jp-ui-font-color2, #757575); font-size: 0.85em"
#: status colours from the JupyterLab theme: at least 4.5:1 (WCAG AA) against the output
#: background in both the light (#fff) and the dark (#111) theme; the fallbacks are the
#: light theme's values (tests/test_approval_card.py and the browser tests check both)
OK = "var(--jp-success-color0, #1b5e20)"
BAD = "var(--jp-error-color1, #d32f2f)"
_COMMAND = re.compile(r"(%agent_resume \S+)")  # shown as code in a footer's hint
#: the ``error_type`` a view gives a tool row whose run was interrupted while it ran
CANCELLED = "CancelledError"
_ICONS = {"pending": "⋯", "completed": "✓", "error": "✗", "rejected": "⊘", "approval": "‖"}
_COLORS = {"completed": OK, "error": BAD, "rejected": BAD}


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def pretty_json(value: Any) -> str:
    """Indented JSON (non-JSON values as their ``str``)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def short_args(args: dict[str, Any], limit: int = 80) -> str:
    """``order_id="42", amount=30.0``, cut at ``limit`` characters."""
    text = ", ".join(
        f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in args.items()
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def _content_html(value: Any) -> str:
    """A tool result as HTML; MCP results render their blocks (images inline)."""
    if isinstance(value, dict) and value.get("type") == "mcp_result":
        parts = [_block_html(b) for b in value.get("content") or []]
        structured = value.get("structured_content")
        if structured is not None and not _said_in_text(value.get("content"), structured):
            parts.append(f"<pre>{esc(pretty_json(structured))}</pre>")
        return "".join(parts) or "<pre>(empty)</pre>"
    if isinstance(value, str):
        return f'<pre style="white-space: pre-wrap">{esc(value)}</pre>'
    return f"<pre>{esc(pretty_json(value))}</pre>"


def _said_in_text(blocks: Any, structured: Any) -> bool:
    """Whether a text block already carries ``structured`` as JSON (most servers send
    both): then the result shows once."""
    for block in blocks or []:
        if isinstance(block, dict) and block.get("type") == "text":
            try:
                if json.loads(block.get("text", "")) == structured:
                    return True
            except ValueError:
                continue
    return False


def _block_html(block: Any) -> str:
    if not isinstance(block, dict):
        return f"<pre>{esc(block)}</pre>"
    kind = block.get("type")
    if kind == "text":
        return f'<pre style="white-space: pre-wrap">{esc(block.get("text", ""))}</pre>'
    if kind == "image":
        source = block.get("source") or {}
        media = source.get("media_type") or block.get("mimeType") or "image/png"
        data = source.get("data") or block.get("data") or ""
        return f'<img src="data:{esc(media)};base64,{esc(data)}" style="max-width: 100%">'
    return f"<pre>{esc(pretty_json(block))}</pre>"


def _content_text(value: Any) -> str:
    if isinstance(value, dict) and value.get("type") == "mcp_result":
        texts = []
        for block in value.get("content") or []:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                texts.append(str(block.get("text", "")))
            elif kind == "image":
                media = (block.get("source") or {}).get("media_type", "image")
                texts.append(f"[{media}]")
        return " ".join(texts)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _tool_state(tool: ToolExecution, progress: str | None) -> tuple[str, str]:
    """The icon and words for a tool row's summary."""
    if tool.status == "pending" and tool.approval_id and tool.started_at is None:
        from agno_nb.jupyter._card import needs_words

        return _ICONS["approval"], needs_words(tool.required_role or "required")
    if tool.status == "pending":
        return _ICONS["pending"], progress or "running"
    words = {"completed": "", "error": "error", "rejected": "rejected"}[tool.status]
    if tool.error_type == CANCELLED:  # the run was interrupted while it ran
        return _ICONS["rejected"], " · ".join(w for w in ("cancelled", _ms(tool.duration_ms)) if w)
    duration = _ms(tool.duration_ms)
    return _ICONS[tool.status], " · ".join(w for w in (words, duration) if w)


def tool_html(tool: ToolExecution, progress: str | None = None) -> str:
    """One collapsible row: summary line, then arguments and result or error."""
    icon, state = _tool_state(tool, progress)
    color = _COLORS.get(tool.status, "inherit")
    summary = (
        f'<summary style="cursor: pointer"><span style="color: {color}">{icon}</span> '
        f"<code>{esc(tool.name)}</code>"
        f'<span style="{_MUTED}">({esc(short_args(tool.args))}) · {esc(state)}</span></summary>'
    )
    body = [f"<div><b>arguments</b><pre>{esc(pretty_json(tool.args))}</pre>"]
    if tool.error is not None:
        body.append(f'<b>error</b><pre style="color: {BAD}; white-space: pre-wrap">'
                    f"{esc(tool.error)}</pre>")  # fmt: skip
    elif tool.status == "completed":
        body.append(f"<b>result</b>{_content_html(tool.result)}")
    body.append("</div>")
    return f'<details class="agno-tool agno-tool-{tool.status}">{summary}{"".join(body)}</details>'


def tool_text(tool: ToolExecution, progress: str | None = None) -> str:
    icon, state = _tool_state(tool, progress)
    line = f"{icon} {tool.name}({short_args(tool.args)}) {state}".rstrip()
    if tool.error is not None:
        line += f"\n    {tool.error}"
    elif tool.status == "completed":
        result = _content_text(tool.result)
        line += f"\n    → {result if len(result) <= 200 else result[:199] + '…'}"
    return line


@dataclass(slots=True)
class Footer:
    """The facts under a run: status, tokens, cost, latency."""

    status: str
    usage: Usage | None = None
    cost: float | None = None
    seconds: float | None = None
    first_token_ms: float | None = None
    model: str | None = None
    run_id: str | None = None
    note: str | None = None
    #: a second line (a paused run's id and how to resume it)
    hint: str | None = None

    def parts(self) -> list[str]:
        out = [self.status]
        if self.model:
            out.append(self.model)
        if self.usage is not None and self.usage.requests:
            out.append(f"{self.usage.input_tokens:,} in / {self.usage.output_tokens:,} out tokens")
        if self.cost is not None:
            out.append(f"${self.cost:.4f}")
        if self.seconds is not None:
            out.append(f"{self.seconds:.2f} s")
        if self.first_token_ms is not None:
            out.append(f"first token {self.first_token_ms:.0f} ms")
        if self.note:
            out.append(self.note)
        return out


def footer_html(footer: Footer) -> str:
    run = f' <code style="font-size: 0.9em">{esc(footer.run_id)}</code>' if footer.run_id else ""
    hint = _COMMAND.sub(r"<code>\1</code>", esc(footer.hint)) if footer.hint else ""
    hint = f'<div class="agno-hint">{hint}</div>' if hint else ""
    return (
        f'<div class="agno-footer" style="{_MUTED}">{esc(" · ".join(footer.parts()))}{run}'
        f"{hint}</div>"
    )


def footer_text(footer: Footer) -> str:
    hint = f"\n  {footer.hint}" if footer.hint else ""
    return "— " + " · ".join(footer.parts()) + hint


def error_html(message: str, kind: str = "Error") -> str:
    return (
        f'<div class="agno-error" style="color: {BAD}; border-left: 3px solid {BAD}; '
        f'padding-left: 8px; white-space: pre-wrap"><b>{esc(kind)}</b>: {esc(message)}</div>'
    )


# -- rich reprs of core objects ------------------------------------------------------


def _run_footer(run: RunOutput, cost: float | None) -> Footer:
    seconds = run.duration_ms / 1000 if run.duration_ms is not None else None
    return Footer(str(run.status), run.usage, cost, seconds, model=run.model, run_id=run.run_id)


def run_markdown(run: RunOutput, cost: float | None = None) -> str:
    content = run.content
    if hasattr(content, "model_dump_json"):
        content = f"```json\n{content.model_dump_json(indent=2)}\n```"
    parts = [f"**{run.agent_name}** ← {run.input}", "", str(content or "")]
    if run.error:
        parts += ["", error_html(run.error, run.error_type or "Error")]
    if run.tool_calls:
        parts += ["", "".join(tool_html(t) for t in run.tool_calls)]
    return "\n".join([*parts, "", footer_html(_run_footer(run, cost))])


def run_text(run: RunOutput, cost: float | None = None) -> str:
    lines = [f"{run.agent_name} <- {run.input}"]
    lines += [f"  {line}" for t in run.tool_calls for line in tool_text(t).splitlines()]
    if run.content is not None:
        lines.append(str(run.content))
    if run.error:
        lines.append(f"{run.error_type or 'Error'}: {run.error}")
    return "\n".join([*lines, footer_text(_run_footer(run, cost))])


def _policy(agent: Agent, tool: Any) -> str:
    """The approval a tool needs: its own policy, or the agent's override for it."""
    import fnmatch

    spec = getattr(tool, "approval", None)
    if tool.name in agent.approvals:
        spec = agent.approvals[tool.name]
    else:
        for pattern, override in agent.approvals.items():
            if fnmatch.fnmatchcase(tool.name, pattern):
                spec = override
                break
    if callable(spec) and not isinstance(spec, str):
        return "depends on the call"
    if spec is None or spec == "auto":
        return "auto"
    return str(getattr(spec, "role", spec))


def _agent_rows(agent: Agent) -> list[tuple[str, str]]:
    rows = [("model", repr(agent.model)), ("id", agent.id)]
    if agent.description:
        rows.append(("description", agent.description))
    tools = [f"{t.name} ({_policy(agent, t)})" for t in agent.tools]
    tools += [f"{type(t).__name__} (toolset)" for t in agent.toolsets]
    rows.append(("tools", ", ".join(tools) or "none"))
    db = agent.db
    rows.append(("db", "default" if not isinstance(db, str | bool | None) else repr(db)))
    return rows


def agent_html(agent: Agent) -> str:
    cells = "".join(
        f'<tr><th style="text-align: left">{esc(k)}</th>'
        f'<td style="text-align: left">{esc(v)}</td></tr>'
        for k, v in _agent_rows(agent)
    )
    return f"<div><b>Agent {esc(agent.name)}</b><table>{cells}</table></div>"


def agent_text(agent: Agent) -> str:
    return "\n".join([f"Agent {agent.name}", *(f"  {k}: {v}" for k, v in _agent_rows(agent))])


def _approval_rows(a: ApprovalRequest) -> list[tuple[str, str]]:
    from agno_nb.jupyter._card import age, needs_words

    rows = [
        ("tool", f"{a.tool_name}({short_args(a.args)})"),
        ("needs", needs_words(a.required_role).removeprefix("needs ")),
        ("requested by", f"{a.requested_by} at {a.requested_at:%Y-%m-%d %H:%M:%S} UTC "
                         f"({age(a.requested_at)})"),
        ("status", a.status),
    ]  # fmt: skip
    if a.decided_by:
        rows.append(("decided by", f"{a.decided_by} at {a.decided_at:%Y-%m-%d %H:%M:%S}"))
    if a.reason:
        rows.append(("reason", a.reason))
    if a.edited_args is not None:
        rows.append(("edited arguments", short_args(a.edited_args)))
    rows += [("agent", a.agent_id), ("run", a.run_id)]
    if a.status == "pending":
        rows.append(("decide", f"%agent_resume {a.run_id} (in a kernel that defines the agent)"))
    return rows


def approval_html(a: ApprovalRequest) -> str:
    return table_html([dict(_approval_rows(a))], title=f"Approval {a.approval_id}")


def approval_text(a: ApprovalRequest) -> str:
    rows = _approval_rows(a)
    return "\n".join([f"Approval {a.approval_id}", *(f"  {k}: {v}" for k, v in rows)])


def table_html(rows: Sequence[dict[str, Any]], title: str | None = None) -> str:
    """A plain HTML table (used when pandas is not installed)."""
    columns = _columns(rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows
    )
    caption = f"<caption>{esc(title)}</caption>" if title else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table_text(rows: Sequence[dict[str, Any]]) -> str:
    columns = _columns(rows)
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns
