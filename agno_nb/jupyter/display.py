"""Streaming a run into a cell: ``RunView`` turns run events into output blocks.

A run's output is a list of blocks: Markdown text as it streams, one collapsible row per
tool call, the approval widgets of a pause, errors, and a footer (status, tokens, cost,
latency). A *sink* puts the blocks somewhere (``_sinks.py``): the cell's own outputs
(``DisplaySink``), an ``ipywidgets.Output`` (``OutputSink``, for continuations), or stdout
(``TextSink``). A continuation's footer takes the place of the paused run's
(``footer_into``), so the output ends with one footer.

Updates are throttled: the first token shows at once, then the blocks that changed are
re-sent at most every ``interval`` seconds (thousands of deltas become a few dozen
updates); a new tool row or the end of the run flushes at once. The events themselves
come from :mod:`agno_nb.jupyter._pump`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agno_nb import events as ev
from agno_nb.jupyter import _progress
from agno_nb.jupyter import _render as r
from agno_nb.jupyter._sinks import Block, DisplaySink, OutputSink, Sink, TextSink

if TYPE_CHECKING:
    from agno_nb.run import RunOutput, ToolExecution

__all__ = ["Block", "DisplaySink", "OutputSink", "RunView", "Sink", "TextSink", "cost_of"]


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


#: what a pause shows (the approval widgets), given the run and the view that paused
PauseHook = Callable[["RunOutput", "RunView"], "Block | None"]


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
        footer_into: RunView | None = None,
    ) -> None:
        self.sink, self.stream, self.interval = sink, stream, interval
        self.show_tools, self.show_footer, self.on_pause = show_tools, show_footer, on_pause
        #: the view of the paused run this one continues: its footer takes ours
        self.footer_into = footer_into
        self.footer_block: Block | None = None
        #: whether the footer counts the seconds since this view began (not for a paused
        #: run shown again by %agent_resume)
        self.elapsed = True
        self.blocks: list[Block] = []
        self.run: RunOutput | None = None
        self.run_id: str | None = None
        self.started = time.perf_counter()
        self.first_token_ms: float | None = None
        self._text: Block | None = None
        self._tools: dict[str, Block] = {}
        self._last_flush = 0.0
        self._pending: list[Block] = []
        self.live = getattr(sink, "live", True)  # show progress lines (see _progress)
        self._clock = _progress.Clock(self.started)
        self._wait: Block | None = None  # the progress line, taken by the next block
        self._ticked = self.started  # when the progress lines were last refreshed

    # -- blocks ---------------------------------------------------------------------

    def _add(self, block: Block) -> Block:
        wait, self._wait = self._wait, None
        if wait is not None and block.widget is None:  # the next output takes its place
            wait.kind, wait.data, wait.text = block.kind, block.data, block.text
            wait.final = block.final
            self._touch(wait)
            return wait
        if wait is not None:
            self._clear(wait)
        self.blocks.append(block)
        self._pending.append(block)
        return block

    def _clear(self, block: Block) -> None:
        block.data, block.text, block.final = {"text/plain": ""}, "", True
        self._touch(block)

    def _tick_at(self) -> float | None:
        """When the progress lines next change (None: nothing to show)."""
        return self._clock.next_change(self._ticked) if self.live and self.stream else None

    def tick(self) -> None:
        """Refresh the progress lines when they change (``due`` says when), then flush:
        the drive loop calls this whenever no event came within its wait."""
        now = time.perf_counter()
        at = self._tick_at()
        if at is not None and now >= at:
            self._refresh(now)
        self.flush()

    def _refresh(self, now: float) -> None:
        self._ticked = now
        line = self._clock.wait_line(now, shown=self._wait is not None)
        if line is not None:
            html = f'<div class="agno-progress" style="{r._MUTED}">{r.esc(line)}</div>'
            data = {"text/html": html, "text/plain": line}
            if self._wait is None:
                self._wait = self._add(Block("wait", data, line, final=False))
            else:
                self._wait.data, self._wait.text = data, line
                self._touch(self._wait)
        elif self._wait is not None and self._wait.text:
            self._clear(self._wait)
        for tool, _, _ in list(self._clock.tools.values()):
            if tool.id in self._tools:
                self._tool_row(tool, self._clock.tool_words(tool.id, now))

    def _touch(self, block: Block) -> None:
        block.dirty = True

    def due(self) -> float | None:
        """Seconds until the next flush (or progress line change) is needed; None when
        nothing waits."""
        now, at = time.perf_counter(), self._tick_at()
        tick = None if at is None else max(0.0, at - now)
        if not self.stream or not (self._pending or any(b.dirty for b in self.blocks)):
            return tick
        flush = max(0.0, self._last_flush + self.interval - now)
        return flush if tick is None else min(flush, tick)

    def flush(self, *, final: bool = False) -> None:
        """Send new and changed blocks to the sink."""
        if not self.stream and not final:
            return
        if final and self._wait is not None:  # nothing is waited for any more
            self._clear(self._wait)
            self._wait = None
        new = {id(b) for b in self._pending}
        for block in self.blocks:  # in order: a sink may print as it goes
            if id(block) in new:
                block.dirty = False
                self.sink.add(block)
                self._pending.remove(block)  # only once shown: a Ctrl-C may land in add
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

    def _model_request(self, event: ev.ModelRequestStarted) -> None:
        self._clock.request(event.model, time.perf_counter())
        if self._wait is not None:  # relabel the shown line (with the next flush)
            self._refresh(time.perf_counter())

    def _content(self, event: ev.RunContent) -> None:
        first = self.first_token_ms is None
        self._clock.answered()
        if first:  # from the request that answered (a tool may have run before it)
            start = self._clock.request_at or self.started
            self.first_token_ms = (time.perf_counter() - start) * 1000
        if self._text is None:
            self._text = self._add(Block("text"))
        block = self._text
        block.text += event.content
        block.data = {"text/markdown": block.text, "text/plain": block.text}
        self._touch(block)
        self._maybe_flush(urgent=first)

    def _tool(
        self, tool: ToolExecution, progress: str | None = None, started: bool = False
    ) -> None:
        self._text = None
        now = time.perf_counter()
        self._clock.tool(tool, progress, now, started)
        if not self.show_tools:
            return
        self._tool_row(tool, self._clock.tool_words(tool.id, now) or progress)
        self._maybe_flush(urgent=progress is None)

    def _tool_row(self, tool: ToolExecution, progress: str | None) -> None:
        block = self._tools.get(tool.id)
        if block is None:
            block = self._tools[tool.id] = self._add(Block("tool"))
        final = tool.status != "pending"
        block.text, block.final = "  " + r.tool_text(tool, progress), final
        block.data = {"text/html": r.tool_html(tool, progress), "text/plain": block.text}
        self._touch(block)

    def _progress(self, event: ev.ToolCallProgress) -> None:
        total = f"/{event.total:g}" if event.total else ""
        words = f"{event.progress:g}{total}" + (f" {event.message}" if event.message else "")
        self._tool(event.tool, words, started=True)

    def _paused(self, event: ev.RunPaused) -> None:
        self.run = event.run
        for tool in event.run.pending_tool_calls:
            self._tool(tool)
        block = self.on_pause(event.run, self) if self.on_pause is not None else None
        if block is not None:
            self._add(block)
        waiting = len(event.run.approvals)
        run_id = event.run.run_id
        self._footer(
            f"paused: {waiting} approval{'s' if waiting != 1 else ''} to decide",
            hint=f"run {run_id} · if its widget is gone (a restarted kernel, a reopened "
            f"notebook): run the cells that define the agent, then %agent_resume {run_id}",
        )

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

    def interrupted(self) -> None:
        """The run was interrupted (Ctrl-C, the stop button): its running tool rows end
        ``cancelled`` and a ``cancelled`` footer closes the output."""
        now = time.perf_counter()
        for tool, began, _ in list(self._clock.tools.values()):
            if self.show_tools and tool.id in self._tools:
                from dataclasses import replace

                cancelled = replace(
                    tool, status="error", error="cancelled: the run was interrupted",
                    error_type=r.CANCELLED, duration_ms=(now - began) * 1000,
                )  # fmt: skip
                self._tool_row(cancelled, None)
        self._clock.tools.clear()
        self._clock.answered()
        self._footer("cancelled")

    def end_footer(self, status: str, run: RunOutput | None = None) -> None:
        """A footer with ``status`` (and ``run``'s tokens and cost, if given) that ends
        this view, or the paused view it continues."""
        if run is not None:
            self.run = run
        self._footer(status)

    def replace_footer(self, block: Block) -> bool:
        """Show ``block`` in place of this view's footer (a paused run's footer, once the
        run went on); False when this view has none it can replace."""
        if self.footer_into is not None and self.footer_into.replace_footer(block):
            return True
        old = self.footer_block
        if old is None or not self.live:
            return False
        old.data, old.text = block.data, block.text
        self._touch(old)
        self.flush(final=True)
        return True

    def republish(self) -> None:
        """Send the widgets again (their text form, what a saved notebook keeps, follows
        the run), here and in the view this one continues."""
        if self.footer_into is not None:
            self.footer_into.republish()
        if self.live:
            for each in self.blocks:
                if each.widget is not None:
                    self._touch(each)
            self.flush(final=True)

    def _footer(self, status: str, hint: str | None = None) -> None:
        self._text = None
        run = self.run
        if self.show_footer:
            seconds = time.perf_counter() - self.started if self.elapsed else None
            if run is not None:
                footer = r.Footer(
                    status,
                    run.usage,
                    cost_of(run.model, run.usage),
                    seconds,
                    self.first_token_ms,
                    model=run.model,
                    hint=hint,
                )
            else:  # no final event (interrupted, or a note about a run elsewhere)
                footer = r.Footer(status, seconds=seconds, model=self._clock.model, hint=hint)
            text = r.footer_text(footer)
            block = Block("footer", {"text/html": r.footer_html(footer), "text/plain": text}, text)
            forwarded = self.footer_into is not None and self.footer_into.replace_footer(block)
            if not forwarded and self.footer_block is not None and self.live:
                self.footer_block.data, self.footer_block.text = block.data, block.text
                self._touch(self.footer_block)  # a later word on the run: one footer still
            elif not forwarded:
                self.footer_block = self._add(block)
        self.flush(final=True)


_HANDLERS: dict[type, Callable[[RunView, Any], None]] = {
    ev.RunStarted: lambda v, e: setattr(v, "run_id", e.run_id),
    ev.RunContinued: lambda v, e: setattr(v, "run_id", e.run_id),
    ev.ModelRequestStarted: RunView._model_request,
    ev.RunContent: RunView._content,
    ev.ToolCallStarted: lambda v, e: v._tool(e.tool, started=True),
    ev.ToolCallCompleted: lambda v, e: v._tool(e.tool),
    ev.ToolCallError: lambda v, e: v._tool(e.tool),
    ev.ToolCallProgress: RunView._progress,
    ev.RunPaused: RunView._paused,
    ev.RunCompleted: RunView._completed,
    ev.RunError: RunView._error,
}
