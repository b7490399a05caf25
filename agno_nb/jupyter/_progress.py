"""What a live run is waiting for, and for how long: the progress lines of a ``RunView``.

* **starting**: nothing has come yet (the first run of a kernel imports the SDK and
  connects); shown after ``STARTING_AFTER`` seconds.
* **waiting for MODEL**: a model request that has not answered for ``MODEL_WAIT_AFTER``
  seconds.
* **running · 2.5 s**: a tool that has run for ``TOOL_AFTER`` seconds counts them in its row.

The counters count whole steps of ``EVERY`` seconds from each wait's start; ``next_change``
says when the next one is due, ``RunView.due`` wakes the drive loop
(:mod:`agno_nb.jupyter._pump`) then, and ``RunView.tick`` refreshes the lines: from the
``%agent`` cell's own thread in a kernel, or from the continuation's task. This also keeps the
clock for "first token": from the model request that produced it, not from the run start.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agno_nb.run import ToolExecution

__all__ = ["EVERY", "MODEL_WAIT_AFTER", "STARTING_AFTER", "TOOL_AFTER", "Clock"]

EVERY = 0.5
STARTING_AFTER = 0.2
MODEL_WAIT_AFTER = 1.0
TOOL_AFTER = 0.5


def _steps(elapsed: float) -> float:
    """``elapsed`` down to a whole number of ``EVERY`` steps (a wake-up a hair early
    still counts its step)."""
    return math.floor((elapsed + 0.02) / EVERY) * EVERY


def _seconds(elapsed: float) -> str:
    shown = _steps(elapsed)
    if not shown:
        return ""
    return f" · {shown:.1f} s" if shown < 60 else f" · {int(shown // 60)} min {shown % 60:.0f} s"


class Clock:
    """The run's phase (starting, waiting for the model, answering) and running tools,
    with the time each began (``time.perf_counter()`` values)."""

    __slots__ = ("model", "phase", "request_at", "since", "tools")

    def __init__(self, now: float) -> None:
        self.phase: str | None = "starting"  # "starting" | "model" | None (answering)
        self.since = now
        self.model: str | None = None
        self.request_at: float | None = None  # the latest model request
        #: running tools: id -> (the call, when it started, its last progress words)
        self.tools: dict[str, tuple[ToolExecution, float, str | None]] = {}

    def request(self, model: str, now: float) -> None:
        """A model request started: wait for its answer."""
        self.phase, self.since, self.model, self.request_at = "model", now, model, now

    def answered(self) -> None:
        """Text or a tool call came: nothing to wait for."""
        self.phase = None

    def wait_line(self, now: float, shown: bool) -> str | None:
        """The wait to show now (always once ``shown``); None when there is none."""
        if self.phase is None:
            return None
        elapsed = now - self.since
        if self.phase == "starting":
            if shown or elapsed >= STARTING_AFTER:
                return f"⋯ starting{_seconds(elapsed)}"
            return None
        if shown or _steps(elapsed) >= MODEL_WAIT_AFTER:
            return f"⋯ waiting for {self.model or 'the model'}{_seconds(elapsed)}"
        return None

    def next_change(self, now: float) -> float | None:
        """When a line next changes after ``now`` (a threshold or a counter's next step);
        None when nothing is waited for."""
        starts = [began for _, began, _ in self.tools.values()]
        if self.phase is not None:
            starts.append(self.since)
        marks = [s + (math.floor((now - s) / EVERY) + 1) * EVERY for s in starts]
        if self.phase == "starting" and now < self.since + STARTING_AFTER:
            marks.append(self.since + STARTING_AFTER)
        return min(marks, default=None)

    def tool(self, tool: ToolExecution, progress: str | None, now: float, started: bool) -> None:
        """Track ``tool`` from its start (``started``: a start or progress event) until it
        ends; a call waiting for an approval is not running."""
        if tool.status != "pending":
            self.tools.pop(tool.id, None)
        elif started or tool.id in self.tools:
            self.answered()
            began = self.tools[tool.id][1] if tool.id in self.tools else now
            self.tools[tool.id] = (tool, began, progress)

    def tool_words(self, tool_id: str, now: float) -> str | None:
        """``running · 2.5 s`` (or its progress words and the seconds) once a tool has run
        ``TOOL_AFTER``; its progress words (or None) before."""
        if tool_id not in self.tools:
            return None
        _, started, progress = self.tools[tool_id]
        if _steps(now - started) < TOOL_AFTER:
            return progress
        return f"{progress or 'running'}{_seconds(now - started)}"
