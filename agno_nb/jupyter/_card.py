"""The pieces of an approval card, as pure functions (the widgets are in ``widgets.py``).

* ``CardContext``: what a person needs to decide, beyond the call: the agent, the user's
  prompt and what the model said just before the call.
* ``header_html``: the card's title and context lines; ``gone_html``: the note a card
  shows once its kernel is gone (JupyterLab marks the widget ``jupyter-widgets-
  disconnected``; a ``<style>`` in the card shows the note and stops the clicks).
* ``editable_json`` / ``parse_edited``: arguments as JSON a person edits, with real line
  breaks inside strings (parsed back with ``strict=False``); ``editor_rows``.
* ``diff_html`` / ``diff_text``: edited against proposed arguments, key by key.
* ``resume_text``: the text fallback of a paused run (the saved notebook's text, and what
  to run when the widget is gone).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agno_nb.jupyter import _render as r

if TYPE_CHECKING:
    from agno_nb.approvals import ApprovalRequest
    from agno_nb.jupyter.paused import PausedRun
    from agno_nb.run import RunOutput

__all__ = [
    "CardContext",
    "age",
    "diff_html",
    "diff_text",
    "editable_json",
    "editor_rows",
    "gone_html",
    "header_html",
    "inbox_run_html",
    "needs_words",
    "one_line",
    "parse_edited",
    "resume_text",
]

MAX_ROWS = 18
#: a decided card's title (a pending one says what it needs)
_TITLES = {
    "approved": ("✓", "approved"),
    "rejected": ("⊘", "rejected"),
    "expired": ("⊘", "expired"),
}
_CODE = re.compile(r"`([^`]+)`")  # Markdown code spans in the model's text
PROMPT_CHARS = 160

#: the card's own rules: a code font and no soft wrap in the editor (long lines scroll),
#: and, once JupyterLab marks the widget disconnected (its kernel is gone), the note
#: shown, the controls dimmed and inert, and one "disconnected" icon for the whole
#: paused run or inbox (``agno-approvals``) instead of one per control
STYLE = """<style>
.agno-approval textarea { font-family: var(--jp-code-font-family); white-space: pre;
  overflow: auto; font-size: var(--jp-code-font-size); line-height: 1.4; }
.agno-approval .agno-gone { display: none; }
.agno-approval.jupyter-widgets-disconnected .agno-gone { display: block; }
.agno-approval.jupyter-widgets-disconnected button,
.agno-approval.jupyter-widgets-disconnected textarea,
.agno-approval.jupyter-widgets-disconnected input { pointer-events: none; opacity: 0.45; }
.agno-approvals .jupyter-widgets-disconnected::before { content: none; }
</style>"""


@dataclass(frozen=True, slots=True)
class CardContext:
    """The agent, the user's prompt and the model's text just before the call."""

    agent: str
    prompt: str | None = None
    model_text: str | None = None

    @classmethod
    def of_run(cls, run: RunOutput | None, agent_id: str) -> CardContext:
        if run is None:
            return cls(agent_id)
        said = next((m.text.strip() for m in reversed(run.messages) if m.role == "assistant"), "")
        return cls(run.agent_name or agent_id, run.input or None, said or None)


def one_line(text: str, limit: int = PROMPT_CHARS) -> str:
    """``text`` on one line, cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def age(when: datetime, now: datetime | None = None) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 d ago``."""
    from agno_nb.run import utcnow

    seconds = ((now or utcnow()) - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h ago"
    return f"{seconds // 86400:.0f} d ago"


def _at(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M:%S} UTC"


def needs_words(role: str) -> str:
    """``needs approval``; with a role, ``needs approval by role 'admin'``."""
    from agno_nb.approvals import REQUIRED

    return "needs approval" if role == REQUIRED else f"needs approval by role {role!r}"


def header_html(a: ApprovalRequest, context: CardContext) -> str:
    """The card's title (tool and what it needs) and its context lines."""
    muted = f'style="{r._MUTED}"'
    icon, words = _TITLES.get(a.status, ("‖", needs_words(a.required_role)))
    lines = [
        f"<b>{icon} {r.esc(a.tool_name)}</b> {r.esc(words)}",
        f"<div {muted}>agent <b>{r.esc(context.agent)}</b> · run <code>{r.esc(a.run_id)}</code>"
        f" · requested by <b>{r.esc(a.requested_by)}</b> at {r.esc(_at(a.requested_at))}"
        f" ({r.esc(age(a.requested_at))}) · "
        + (f"expires {r.esc(_at(a.expires_at))}" if a.expires_at else "no expiry")
        + "</div>",
    ]
    if context.prompt:
        lines.append(f"<div><b>prompt</b>: {r.esc(one_line(context.prompt))}</div>")
    if context.model_text:
        said = _CODE.sub(r"<code>\1</code>", r.esc(one_line(context.model_text)))
        lines.append(f"<div><b>the model said</b>: <i>{said}</i></div>")
    if a.policy_error:
        lines.append(
            f'<div style="color: {r.BAD}">the approval policy failed ({r.esc(a.policy_error)}), '
            f"so the call needs <code>{r.esc(a.required_role)}</code></div>"
        )
    return STYLE + "".join(lines)


def gone_html(a: ApprovalRequest) -> str:
    """Shown (by ``STYLE``) only once the widget's kernel is gone."""
    return (
        f'<div class="agno-gone" style="color: {r.BAD}"><b>This widget no longer works: its '
        "kernel has stopped or restarted.</b> Run the cells that define the agent, then "
        f"<code>%agent_resume {r.esc(a.run_id)}</code> in a new cell.</div>"
    )


def inbox_run_html(p: PausedRun) -> str:
    """The inbox's line over a run's cards: agent, age, and how to resume it in a cell."""
    oldest = min(a.requested_at for a in p.approvals)
    where = (
        "" if p.agent is not None
        else " (its agent is not defined in this kernel: run the cells that define it first)"
    )  # fmt: skip
    return (
        f'<div style="margin-top: 6px">run <code>{r.esc(p.run_id)}</code> · agent '
        f"<b>{r.esc(p.context.agent)}</b> · paused {r.esc(age(oldest))} · "
        f"<code>%agent_resume {r.esc(p.run_id)}</code> resumes it in a new cell"
        f"{r.esc(where)}</div>"
    )


def _string(text: str) -> str:
    """A JSON string whose line breaks stay real line breaks (``strict=False`` reads it)."""
    return '"' + "\n".join(json.dumps(p, ensure_ascii=False)[1:-1] for p in text.split("\n")) + '"'


def editable_json(value: Any, level: int = 0) -> str:
    """Indented JSON for a person to edit: strings keep their line breaks."""
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{_string(str(k))}: {editable_json(v, level + 1)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list | tuple) and value:
        items = [f"{inner}{editable_json(v, level + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False, default=str)


def parse_edited(text: str) -> dict[str, Any]:
    """The arguments a person typed; raises ``ValueError`` with the line and column."""
    try:
        value = json.loads(text, strict=False)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"the arguments are not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(value, dict):
        raise ValueError("the arguments must be a JSON object ({...})")
    return value


def editor_rows(text: str) -> int:
    """Rows that show ``text`` whole (a scrollbar's worth more), up to ``MAX_ROWS``."""
    return max(3, min(MAX_ROWS, text.count("\n") + 2))


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _changes(proposed: dict[str, Any], edited: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, before, after) per changed key; '' for a key absent on one side."""
    keys = [*proposed, *(k for k in edited if k not in proposed)]
    return [
        (k, _value(proposed[k]) if k in proposed else "", _value(edited[k]) if k in edited else "")
        for k in keys
        if proposed.get(k, ...) != edited.get(k, ...)
    ]


def diff_text(proposed: dict[str, Any], edited: dict[str, Any]) -> str:
    """``amount: 30.0 → 25.0; + note: "x"; - coupon``, or '' when nothing changed."""
    parts = []
    for key, before, after in _changes(proposed, edited):
        if not before:
            parts.append(f"+ {key}: {after}")
        elif not after:
            parts.append(f"- {key}")
        else:
            parts.append(f"{key}: {before} → {after}")
    return "; ".join(parts)


def diff_html(proposed: dict[str, Any], edited: dict[str, Any]) -> str:
    """The edited arguments against the proposed ones, one line per changed key."""
    rows = []
    for key, before, after in _changes(proposed, edited):
        old = f'<del style="color: {r.BAD}">{r.esc(one_line(before))}</del>' if before else ""
        new = f'<ins style="color: {r.OK}">{r.esc(one_line(after))}</ins>' if after else ""
        arrow = " → " if before and after else ""
        what = "added" if not before else "removed" if not after else ""
        tag = f' <span style="{r._MUTED}">({what})</span>' if what else ""
        rows.append(f"<div><code>{r.esc(key)}</code>: {old}{arrow}{new}{tag}</div>")
    if not rows:
        return ""
    return f'<div class="agno-diff"><b>edited</b>, against the proposed:{"".join(rows)}</div>'


def resume_text(
    run_id: str, agent: str, approvals: Sequence[ApprovalRequest], *, markdown: bool = False
) -> str:
    """A paused run as text (or Markdown): its calls, and exactly what to run when the
    widget is gone (the kernel restarted, the notebook was reopened)."""
    tick = "`" if markdown else ""
    pending = sum(a.status == "pending" for a in approvals)
    lines = [f"Paused run {tick}{run_id}{tick} of agent {agent}: {pending} approval"
             f"{'s' if pending != 1 else ''} to decide"]  # fmt: skip
    for a in approvals:
        state = needs_words(a.required_role) if a.status == "pending" else a.status
        call = f"{tick}{a.tool_name}({r.short_args(a.args)}){tick}"
        lines.append(f"{'- ' if markdown else '  '}‖ {call} {state} (approval {a.approval_id})")
    how = (
        "Decide in the widget. If it is gone or says 'model not found' (the kernel "
        "restarted, or the notebook was reopened), run the cells that define the agent, "
        "then in a new cell:"
    )
    if not markdown:
        return "\n".join([*lines, how, f"  %agent_resume {run_id}"])
    calls = "\n".join(lines[1:])
    return f"{lines[0]}\n\n{calls}\n\n{how}\n\n    %agent_resume {run_id}\n"
