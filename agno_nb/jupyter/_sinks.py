"""Where a run's output blocks go: the *sinks* of a ``RunView`` (see ``display.py``).

* ``DisplaySink``: the cell's own outputs, one display handle per block (``update`` in
  place, widgets included: their text form follows the run); used while the ``%agent``
  cell runs, and later to replace a paused run's footer.
* ``OutputSink``: an ``ipywidgets.Output``'s ``outputs``; used by continuations, which run
  after the cell has finished (a click handler cannot write to a finished cell otherwise).
* ``TextSink``: plain IPython in a terminal: tokens printed as they come.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Block", "DisplaySink", "OutputSink", "Sink", "TextSink"]


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

        if block.widget is not None:  # a handle too: its text form changes with the run
            block.handle = display(block.widget, display_id=True)
        else:
            block.handle = display(block.data, raw=True, display_id=True)

    def update(self, block: Block) -> None:
        if block.handle is not None and block.widget is not None:
            block.handle.update(block.widget)
        elif block.handle is not None:
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

    live = False  # no progress lines: they would stay in the printed text

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
