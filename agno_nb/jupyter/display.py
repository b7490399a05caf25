"""Streaming a run into a cell: ``RunView`` turns run events into output blocks.

A run's output is a list of blocks: Markdown text as it streams, one collapsible row per
tool call, the approval widgets of a pause, errors, and a footer (status, tokens, cost,
latency). A *sink* puts the blocks somewhere:

* ``DisplaySink``: the cell's own outputs, one display handle per block (``update`` in
  place); used while the ``%agent`` cell runs.
* ``OutputSink``: an ``ipywidgets.Output``'s ``outputs``; used by continuations, which run
  after the cell has finished (a click handler cannot write to a finished cell otherwise).
* ``TextSink``: plain IPython in a terminal: tokens printed as they come.

Updates are throttled: the first token shows at once, then the blocks that changed are
re-sent at most every ``interval`` seconds (thousands of deltas become a few dozen
updates); a new tool row or the end of the run flushes at once. The events themselves
come from :mod:`agno_nb.jupyter._pump`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agno_nb import events as ev
from agno_nb.jupyter import _render as r

if TYPE_CHECKING:
    from agno_nb.run import RunOutput, ToolExecution

__all__ = ["Block", "DisplaySink", "OutputSink", "RunView", "Sink", "TextSink", "cost_of"]


@dataclass(slots=True, eq=False)
class Block:
    """One output of a run: a MIME bundle (``data``) or a widget, plus plain text."""

    kind: str
    data: dict[str, str] = field(default_factory=dict)
    text: str = ""
    widget: Any = None
    final: bool = True
    dirty: bool = False
    handle: Any = None
    printed: int = 0


class Sink(Protocol):
    def add(self, block: Block) -> None: ...
    def update(self, block: Block) -> None: ...
    def commit(self) -> None: ...


class DisplaySink:
    """Blocks as the current cell's outputs, each with a display handle."""

    def add(self, block: Block) -> None:
        from agno_nb.jupyter._ipython import display

        if block.widget is not None:
            display(block.widget)
        else:
            block.handle = display(block.data, raw=True, display_id=True)

    def update(self, block: Block) -> None:
        if block.handle is not None:
            block.handle.update(block.data, raw=True)

    def commit(self) -> None:
        pass


class OutputSink:
    """Blocks as the ``outputs`` of an ``ipywidgets.Output`` (rewritten on commit)."""

    def __init__(self, output: Any) -> None:
        self.output = output
        self.blocks: list[Block] = []
        self._base = tuple(output.outputs)

    def add(self, block: Block) -> None:
        self.blocks.append(block)

    def update(self, block: Block) -> None:
        pass

    def commit(self) -> None:
        outputs = []
        for block in self.blocks:
            data = block.widget._repr_mimebundle_() if block.widget is not None else block.data
            outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
        self.output.outputs = self._base + tuple(outputs)


class TextSink:
    """Plain text on stdout: streamed text as it comes, other blocks once final."""

    def __init__(self, write: Callable[[str], object] | None = None) -> None:
        self.write = write or sys.stdout.write
        self._last: Block | None = None

    def add(self, block: Block) -> None:
        if self._last is not None and self._last.kind == "text" and self._last.printed:
            self.write("\n")
        self._last = block
        self.update(block)

    def update(self, block: Block) -> None:
        if block.kind == "text":
            self.write(block.text[block.printed :])
            block.printed = len(block.text)
        elif block.final and not block.printed:
            self.write(block.text + "\n")
            block.printed = 1

    def commit(self) -> None:
        getattr(sys.stdout, "flush", lambda: None)()


def cost_of(model: str | None, usage: Any) -> float | None:
    """The run's cost in USD from ``agno_nb.pricing`` (None for an unknown price)."""
    from agno_nb.pricing import cost

    found = cost(
        model,
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    )
    return None if found is None else found.total


PauseHook = Callable[["RunOutput"], "Block | None"]


class RunView:
    """Run events in, throttled blocks out (see the module docstring)."""

    def __init__(
        self,
        sink: Sink,
        *,
        stream: bool = True,
        show_tools: bool = True,
        show_footer: bool = True,
        interval: float = 0.05,
        on_pause: PauseHook | None = None,
    ) -> None:
        self.sink, self.stream, self.interval = sink, stream, interval
        self.show_tools, self.show_footer, self.on_pause = show_tools, show_footer, on_pause
        self.blocks: list[Block] = []
        self.run: RunOutput | None = None
        self.started = time.perf_counter()
        self.first_token_ms: float | None = None
        self._text: Block | None = None
        self._tools: dict[str, Block] = {}
        self._last_flush = 0.0
        self._pending: list[Block] = []

    # -- blocks ---------------------------------------------------------------------

    def _add(self, block: Block) -> Block:
        self.blocks.append(block)
        self._pending.append(block)
        return block

    def _touch(self, block: Block) -> None:
        block.dirty = True

    def due(self) -> float | None:
        """Seconds until the next flush is needed; None when nothing waits."""
        if not self.stream or not (self._pending or any(b.dirty for b in self.blocks)):
            return None
        return max(0.0, self._last_flush + self.interval - time.perf_counter())

    def flush(self, *, final: bool = False) -> None:
        """Send new and changed blocks to the sink."""
        if not self.stream and not final:
            return
        new = {id(b) for b in self._pending}
        self._pending.clear()
        for block in self.blocks:  # in order: a sink may print as it goes
            if id(block) in new:
                block.dirty = False
                self.sink.add(block)
            elif block.dirty:
                block.dirty = False
                self.sink.update(block)
        self.sink.commit()
        self._last_flush = time.perf_counter()

    def _maybe_flush(self, urgent: bool = False) -> None:
        if urgent or time.perf_counter() - self._last_flush >= self.interval:
            self.flush()

    # -- events ---------------------------------------------------------------------

    def handle(self, event: ev.RunEvent) -> None:
        """Apply one event (flushing when it is urgent or an interval has passed)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _content(self, event: ev.RunContent) -> None:
        first = self.first_token_ms is None
        if first:
            self.first_token_ms = (time.perf_counter() - self.started) * 1000
        if self._text is None:
            self._text = self._add(Block("text"))
        block = self._text
        block.text += event.content
        block.data = {"text/markdown": block.text, "text/plain": block.text}
        self._touch(block)
        self._maybe_flush(urgent=first)

    def _tool(self, tool: ToolExecution, progress: str | None = None) -> None:
        self._text = None
        if not self.show_tools:
            return
        block = self._tools.get(tool.id)
        if block is None:
            block = self._tools[tool.id] = self._add(Block("tool"))
        final = tool.status != "pending"
        block.text, block.final = "  " + r.tool_text(tool, progress), final
        block.data = {"text/html": r.tool_html(tool, progress), "text/plain": block.text}
        self._touch(block)
        self._maybe_flush(urgent=progress is None)

    def _progress(self, event: ev.ToolCallProgress) -> None:
        total = f"/{event.total:g}" if event.total else ""
        words = f"{event.progress:g}{total}" + (f" {event.message}" if event.message else "")
        self._tool(event.tool, words)

    def _paused(self, event: ev.RunPaused) -> None:
        self.run = event.run
        for tool in event.run.pending_tool_calls:
            self._tool(tool)
        block = self.on_pause(event.run) if self.on_pause is not None else None
        if block is not None:
            self._add(block)
        waiting = len(event.run.approvals)
        self._footer(f"paused: {waiting} approval{'s' if waiting != 1 else ''} to decide")

    def _completed(self, event: ev.RunCompleted) -> None:
        self.run = event.run
        self._footer("completed")

    def _error(self, event: ev.RunError) -> None:
        self.run = event.run
        self.note(r.error_html(event.error, event.error_type), f"{event.error_type}: {event.error}")
        self._footer("failed")

    def note(self, html: str, text: str) -> None:
        """Add a message block (a status line, an error) and flush."""
        self._text = None
        self._add(Block("note", {"text/html": html, "text/plain": text}, text))
        self.flush(final=True)

    def markdown(self, text: str) -> None:
        """Add a Markdown block and flush."""
        self._text = None
        self._add(Block("text", {"text/markdown": text, "text/plain": text}, text))
        self.flush(final=True)

    def _footer(self, status: str) -> None:
        self._text = None
        run = self.run
        if self.show_footer and run is not None:
            footer = r.Footer(
                status,
                run.usage,
                cost_of(run.model, run.usage),
                time.perf_counter() - self.started,
                self.first_token_ms,
                model=run.model,
            )
            text = r.footer_text(footer)
            self._add(
                Block("footer", {"text/html": r.footer_html(footer), "text/plain": text}, text)
            )
        self.flush(final=True)


_HANDLERS: dict[type, Callable[[RunView, Any], None]] = {
    ev.RunContent: RunView._content,
    ev.ToolCallStarted: lambda v, e: v._tool(e.tool),
    ev.ToolCallCompleted: lambda v, e: v._tool(e.tool),
    ev.ToolCallError: lambda v, e: v._tool(e.tool),
    ev.ToolCallProgress: RunView._progress,
    ev.RunPaused: RunView._paused,
    ev.RunCompleted: RunView._completed,
    ev.RunError: RunView._error,
}
