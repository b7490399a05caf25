"""Compact tables for ``%agent_runs``, ``%agent_traces`` and ``%agent_sessions``.

The magics return the full data (a pandas DataFrame, or a ``Table`` without pandas); a
notebook shows it as a compact HTML table that fits a 1,000 px page: one line per row, ids
cut short (the full id on hover, and copied whole when selected), input and output as one
line of plain text (Markdown stripped), counts, tokens, cost, duration and age formatted.
``--wide`` shows every column instead. A missing value shows as ``MISSING`` ("—") in both
views, whatever pandas holds for it (``None``, ``NaN``, ``NaT``).

Pure functions of row dicts; pandas is only imported by ``view_frame``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MISSING", "View", "is_missing", "plain_line", "table_html", "table_text", "view_frame"]

View = Literal["runs", "traces", "sessions", "wide"]
MISSING = "—"

#: (text shown, hover text or None, kind: "id" | "text" | "num" | "word")
Cell = tuple[str, str | None, str]
Row = Mapping[str, Any]

_CLIP = ("display: inline-block; overflow: hidden; text-overflow: ellipsis; "
         "white-space: nowrap; vertical-align: bottom")  # fmt: skip
_WIDTH = {"id": "5.5em", "text": "11em", "word": "9em"}
_NARROW = "8.5em"  # input and output when an agent column needs the room
_PAD = "padding: 0.3em 0.45em"  # JupyterLab's 0.5em, a little tighter
_MONO = "font-family: var(--jp-code-font-family, monospace); font-size: 0.9em"
_STATUS = {"completed": "✓", "failed": "✗", "paused": "‖", "running": "⋯", "cancelled": "⊘"}


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or ``pd.NA``."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pd.NA compares to NA, whose truth is ambiguous
        return type(value).__name__ == "NAType"


_MARKDOWN = [
    (re.compile(r"```[^\n]*\n?|~~~[^\n]*\n?"), " "),  # code fences
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links
    (re.compile(r"<[^>\n]+>"), ""),  # HTML tags
    (re.compile(r"(?m)^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+(\[[ xX]\]\s+)?|\d+[.)]\s+)"), ""),
    (re.compile(r"(\*\*|__|~~|`+)"), ""),  # emphasis markers, code spans
    (re.compile(r"(?<![\w*])[*_](?=\S)|(?<=\S)[*_](?![\w*])"), ""),  # *em*, _em_
    (re.compile(r"\s+"), " "),
]


def plain_line(value: Any) -> str:
    """``value`` as one line of plain text: Markdown marks stripped, whitespace collapsed;
    non-text values as compact JSON."""
    if is_missing(value):
        return ""
    if hasattr(value, "model_dump_json"):
        value = value.model_dump_json()
    elif not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    text = str(value)
    for pattern, replacement in _MARKDOWN:
        text = pattern.sub(replacement, text)
    return text.strip()


# -- cells ---------------------------------------------------------------------------


def _none() -> Cell:
    return MISSING, None, "word"


def _id(value: Any, hover: str | None = None) -> Cell:
    if is_missing(value) or value == "":
        return _none()
    return str(value), hover or str(value), "id"


def _text(value: Any) -> Cell:
    line = plain_line(value)
    if not line:
        return _none()
    return line[:160], (line[:600] + ("…" if len(line) > 600 else "")), "text"


def _word(value: Any) -> Cell:
    return _none() if is_missing(value) else (str(value), None, "word")


def _count(value: Any) -> Cell:
    return _none() if is_missing(value) else (f"{int(value):,}", None, "num")


def _status(value: Any) -> Cell:
    if is_missing(value):
        return _none()
    word = str(value)
    return f"{_STATUS.get(word, '·')} {word}", None, "word"


def _tokens(row: Row, inp: str, out: str) -> Cell:
    raw: tuple[Any, Any] = (row.get(inp), row.get(out))
    if all(is_missing(v) for v in raw):
        return _none()
    a, b = (0 if is_missing(v) else int(v) for v in raw)
    return f"{a:,} / {b:,}", f"{a:,} input, {b:,} output tokens", "num"


def _cost(value: Any) -> Cell:
    if is_missing(value):
        return MISSING, "no known price for this model", "num"
    cost = float(value)
    return (f"${cost:.4f}" if cost < 1 else f"${cost:,.2f}"), None, "num"


def duration(ms: Any) -> str:
    """``850 ms``, ``1.25 s``, ``2 min 5 s``, ``1 h 2 min``; MISSING if unknown."""
    if is_missing(ms):
        return MISSING
    ms = float(ms)
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s" if ms < 10_000 else f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _duration(value: Any) -> Cell:
    text = duration(value)
    return text, None, "word" if text == MISSING else "num"


def _as_datetime(value: Any) -> datetime | None:
    if is_missing(value):
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def age(value: Any, now: datetime | None = None) -> str:
    """How long ago: ``12 s``, ``5 min``, ``3 h``, ``2 d``; a date after 30 days."""
    when = _as_datetime(value)
    if when is None:
        return MISSING
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 60:
        return f"{max(0, int(seconds))} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    if seconds < 30 * 86400:
        return f"{int(seconds // 86400)} d"
    return f"{when.astimezone():%Y-%m-%d}"


def _age(value: Any) -> Cell:
    when = _as_datetime(value)
    if when is None:
        return _none()
    return age(when), f"{when.astimezone():%Y-%m-%d %H:%M:%S %Z}", "num"


# -- views ---------------------------------------------------------------------------

Column = tuple[str, str | None, Callable[[Row], Cell]]  # header, header hover, cell


def _several(rows: Sequence[Row], key: str) -> bool:
    return len({str(r.get(key)) for r in rows}) > 1


def _run_hover(row: Row) -> str:
    trace = row.get("trace_id")
    run = str(row.get("run_id"))
    return run if is_missing(trace) else f"{run} (trace {trace})"


def _columns(view: View, rows: Sequence[Row]) -> list[Column]:
    agent: list[Column] = []
    if _several(rows, "agent_id"):
        agent = [("agent", None, lambda r: _word(r.get("agent_name") or r.get("agent_id")))]
    if view == "runs":
        return [
            ("status", None, lambda r: _status(r.get("status"))),
            ("run", "run id (hover: the full id)", lambda r: _id(r.get("run_id"))),
            ("session", None, lambda r: _id(r.get("session_id"))),
            *agent,
            ("input", None, lambda r: _text(r.get("input"))),
            ("output", None, lambda r: _text(r.get("error") or r.get("content"))),
            ("tools", "tool calls", lambda r: _count(r.get("tool_calls"))),
            ("tokens", "input / output tokens",
             lambda r: _tokens(r, "input_tokens", "output_tokens")),
            ("cost", "USD", lambda r: _cost(r.get("cost_usd"))),
            ("duration", None, lambda r: _duration(r.get("duration_ms"))),
            ("age", None, lambda r: _age(r.get("created_at"))),
        ]  # fmt: skip
    if view == "traces":
        return [
            ("status", None, lambda r: _status(r.get("status"))),
            ("run", "run id (hover: the full run and trace ids)",
             lambda r: _id(r.get("run_id"), _run_hover(r))),
            *agent,
            ("input", None, lambda r: _text(r.get("input"))),
            ("output", None, lambda r: _text(r.get("content"))),
            ("model", "model calls", lambda r: _count(r.get("llm_calls"))),
            ("tools", "tool calls", lambda r: _count(r.get("tool_calls"))),
            ("tokens", "prompt / completion tokens",
             lambda r: _tokens(r, "prompt_tokens", "completion_tokens")),
            ("cost", "USD", lambda r: _cost(r.get("cost_usd"))),
            ("duration", "wall time, approval waits included",
             lambda r: _duration(r.get("duration_ms"))),
            ("age", None, lambda r: _age(r.get("start_time"))),
        ]  # fmt: skip
    if view == "sessions":
        return [
            ("session", None, lambda r: _id(r.get("session_id"))),
            ("agent", None, lambda r: _word(r.get("agent_id"))),
            ("user", None, lambda r: _word(r.get("user_id"))),
            ("created", None, lambda r: _age(r.get("created_at"))),
            ("updated", None, lambda r: _age(r.get("updated_at"))),
            ("current", "this kernel's current session",
             lambda r: ("✓" if r.get("current") is True else "", None, "word")),
        ]  # fmt: skip
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return [(k, None, _wide_cell(k)) for k in keys]


def _wide_cell(key: str) -> Callable[[Row], Cell]:
    def cell(row: Row) -> Cell:
        value = row.get(key)
        if is_missing(value):
            return _none()
        # floats to 6 significant digits; anything else on one line
        text = format(value, ".6g") if isinstance(value, float) else " ".join(str(value).split())
        if len(text) <= 120:
            return text, None, "wide"
        return text[:119] + "…", text[:600] + ("…" if len(text) > 600 else ""), "wide"

    return cell


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _td(cell: Cell, narrow: bool = False) -> str:
    text, hover, kind = cell
    title = f' title="{_esc(hover)}"' if hover else ""
    if kind == "num":
        style = f"text-align: right; white-space: nowrap; {_PAD}"
        return f'<td style="{style}"{title}>{_esc(text)}</td>'
    if kind == "wide":
        return f'<td style="text-align: left; {_PAD}"{title}>{_esc(text)}</td>'
    width = _NARROW if narrow and kind == "text" else _WIDTH[kind]
    style = f"{_CLIP}; max-width: {width}" + (f"; {_MONO}" if kind == "id" else "")
    span = f'<span style="{style}"{title}>{_esc(text)}</span>'
    return f'<td style="text-align: left; {_PAD}">{span}</td>'


def table_html(view: View, rows: Sequence[Row], caption: str | None = None) -> str:
    """The rows as an HTML table in ``view`` (see the module docstring)."""
    columns = _columns(view, rows)
    head = "".join(
        f'<th style="text-align: left; white-space: nowrap; {_PAD}"'
        f"{f' title={chr(34)}{_esc(hover)}{chr(34)}' if hover else ''}>{_esc(name)}</th>"
        for name, hover, _ in columns
    )
    narrow = any(name == "agent" for name, _, _ in columns) and view != "sessions"
    body = "".join(
        "<tr>" + "".join(_td(cell(row), narrow) for _, _, cell in columns) + "</tr>" for row in rows
    )
    note = (
        '<caption style="caption-side: top; text-align: left; '
        f'color: var(--jp-ui-font-color2, #777)">{_esc(caption)}</caption>'
        if caption
        else ""
    )
    return (
        f'<table class="agno-table agno-table-{view}" style="margin-left: 0; '
        f'margin-right: auto; font-size: 12px">{note}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def table_text(view: View, rows: Sequence[Row], caption: str | None = None) -> str:
    """The same table as aligned plain text (terminals, ``repr``)."""
    columns = _columns(view, rows)
    cut = {"id": 12, "text": 28, "word": 14, "num": 20, "wide": 40}
    cells = [
        [
            t if len(t) <= cut[k] else t[: cut[k] - 1] + "…"
            for t, _, k in (c(r) for _, _, c in columns)
        ]
        for r in rows
    ]
    names = [name for name, _, _ in columns]
    widths = [max([len(n), *(len(row[i]) for row in cells)]) for i, n in enumerate(names)]
    lines = [caption] if caption else []
    lines.append("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip())
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def caption_of(view: View, count: int, what: str) -> str:
    """``12 runs, newest first · --wide: every column``."""
    wide = "" if view == "wide" else " · --wide: every column"
    return f"{count:,} {what}, newest first{wide}"


# -- the DataFrame the magics return ---------------------------------------------------


@cache
def _frame_class() -> type[pd.DataFrame]:
    import pandas as pd

    class AgentFrame(pd.DataFrame):
        """A DataFrame (full values) that a notebook shows as a compact table; anything
        derived from it (``.head()``, a column) is plain pandas."""

        _metadata = ["_agno_view", "_agno_what"]  # noqa: RUF012 - pandas names it so
        _agno_view: View
        _agno_what: str

        @property
        def _constructor(self) -> type[pd.DataFrame]:
            return pd.DataFrame

        def _records(self) -> list[dict[str, Any]]:
            return [{str(k): v for k, v in r.items()} for r in self.to_dict("records")]

        def _caption(self) -> str:
            return caption_of(self._agno_view, len(self), self._agno_what)

        def _repr_html_(self) -> str:
            return table_html(self._agno_view, self._records(), self._caption())

        def __repr__(self) -> str:
            return table_text(self._agno_view, self._records(), self._caption())

    return AgentFrame


def view_frame(frame: pd.DataFrame, view: View, what: str) -> pd.DataFrame:
    """``frame`` (its values untouched) shown in ``view``; ``what`` names its rows."""
    shown: Any = _frame_class()(frame)
    shown._agno_view, shown._agno_what = view, what
    return cast("pd.DataFrame", shown)
