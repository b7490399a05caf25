"""Pictures of traces: a run's waterfall, latency percentiles, tokens and cost over time.

Each function returns a matplotlib ``Figure`` that is not registered with pyplot (so a
notebook shows it once, as the cell's value, through ``_repr_png_``) and is drawn with
Agg: no GUI, no network.
"""

from __future__ import annotations

import io
import itertools
from typing import TYPE_CHECKING, Any

from agno_nb.analytics import _frames as frames
from agno_nb.exceptions import ConfigError, RunNotFoundError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["KIND_COLORS", "latency_plot", "usage_plot", "waterfall"]

KIND_COLORS = {"AGENT": "#4C72B0", "LLM": "#DD8452", "TOOL": "#55A868", "CHAIN": "#8172B3"}
KIND_LABELS = {"AGENT": "run (AGENT)", "LLM": "model call (LLM)", "TOOL": "tool call (TOOL)",
               "CHAIN": "approval wait (CHAIN)"}  # fmt: skip
ERROR_COLOR = "#C44E52"


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ConfigError("plots need matplotlib: pip install 'agno-nb[analytics]'") from exc

    class TraceFigure(Figure):
        """A Figure that Jupyter renders as PNG without pyplot."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", bbox_inches="tight", dpi=100)
            return buffer.getvalue()

    return TraceFigure(figsize=(width, height), layout="constrained")


def _depths(frame: pd.DataFrame) -> list[int]:
    """How deep each span is under the root (children of a root not written yet: 1)."""
    parents = {
        span: parent if isinstance(parent, str) and parent else None
        for span, parent in zip(frame["span_id"], frame["parent_span_id"], strict=True)
    }
    depths = []
    for span_id in frame["span_id"]:
        depth, seen, parent = 0, {span_id}, parents[span_id]
        while parent is not None and parent not in seen:
            depth += 1
            seen.add(parent)
            parent = parents.get(parent)
        depths.append(depth)
    return depths


def _human(ms: float) -> str:
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min" if ms < 3_600_000 else f"{ms / 3_600_000:.1f} h"


def _segments(intervals: list[tuple[float, float]], end: float) -> list[tuple[float, float]]:
    """The parts of a run's time axis worth drawing at full scale: busy stretches, with
    the idle gaps that are long next to them (say, hours waiting for an approval) cut
    out. ``[(start, stop), ...]`` in ms; one segment when nothing needs squeezing."""
    merged: list[list[float]] = []
    for start, stop in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    busy = sum(b - a for a, b in merged) or 1.0
    cut = max(2 * busy, 1000.0)
    segments = [[0.0, merged[0][1] if merged else end]]
    for a, b in merged[1:]:
        if a - segments[-1][1] > cut:
            segments.append([a, b])
        else:
            segments[-1][1] = b
    if end - segments[-1][1] > cut:
        segments.append([end, end])
    else:
        segments[-1][1] = end
    return [(a, b) for a, b in segments]


class _Axis:
    """A piecewise-linear time axis: full scale inside segments, gaps squeezed."""

    def __init__(self, segments: list[tuple[float, float]]) -> None:
        import numpy as np

        self.segments = segments
        longest = max(b - a for a, b in segments) or 1.0
        self.gap = 0.1 * longest
        data: list[float] = []
        visible: list[float] = []
        for i, (a, b) in enumerate(segments):  # a short segment still gets some room
            start = visible[-1] + self.gap if i else 0.0
            data += [a, b]
            visible += [start, start + max(b - a, 0.35 * longest)]
        far = 1e15
        self._data = np.array([-far, *data, data[-1] + far])
        self._visible = np.array([-far, *visible, visible[-1] + far])
        self.end = visible[-1]

    def forward(self, x: Any) -> Any:
        import numpy as np

        return np.interp(x, self._data, self._visible)

    def inverse(self, x: Any) -> Any:
        import numpy as np

        return np.interp(x, self._visible, self._data)

    def ticks(self) -> tuple[list[float], list[str]]:
        from matplotlib.ticker import MaxNLocator

        values: list[float] = []
        labels: list[str] = []
        for i, (a, b) in enumerate(self.segments):
            inside = [t for t in MaxNLocator(5 if i == 0 else 3).tick_values(0, b - a)
                      if 0 <= t <= b - a]  # fmt: skip
            for t in inside:
                values.append(a + t)
                labels.append(f"{t:g}" if i == 0 else _human(a) if t == 0 else f"+{t:g}")
        return values, labels


def waterfall(run_id: str, db: frames.DB | None = None) -> Figure:
    """The spans of one run on a time axis (ms from its start), nested by depth and
    coloured by kind; errors outlined in red; long approval waits squeezed (grey bands)."""
    import numpy as np
    from matplotlib.patches import Patch

    run = frames.runs(db, run=run_id)
    if run.empty:
        raise RunNotFoundError(f"no run {run_id!r} in the store")
    info = run.iloc[0]
    frame = frames.spans(db, run=run_id)
    fig = _figure(12, 1.4 + 0.36 * max(len(frame), 3))
    ax = fig.add_subplot()
    title = f"Run {run_id}\nagent {info['agent_id']}, {info['status']}"
    if frame.empty:
        ax.text(0.5, 0.5, "no spans recorded (tracing off?)", ha="center", transform=ax.transAxes)
        ax.set_title(title)
        return fig
    frame = frame.assign(depth=_depths(frame))
    frame = frame.assign(child=frame["depth"] > 0).sort_values(["child", "start_time"])
    t0 = min(frame["start_time"].min(), info["created_at"])
    start = ((frame["start_time"] - t0).dt.total_seconds() * 1000).to_numpy()
    width = frame["duration_ms"].clip(lower=0).to_numpy()
    end = float((start + width).max())
    if not (frame["depth"] == 0).any() and info["status"] in ("paused", "running"):
        title += " (not finished: its run span is written when it ends)"
    busy = [(s, s + w) for s, w, k in zip(start, width, frame["kind"], strict=True)
            if k not in ("AGENT", "CHAIN")]  # fmt: skip
    axis = _Axis(_segments(busy, end))
    ax.set_xscale("function", functions=(axis.forward, axis.inverse))
    values, labels = axis.ticks()
    ax.set_xticks(values, labels)
    for (_, a), (b, _) in zip(axis.segments, axis.segments[1:], strict=False):
        ax.axvspan(a, b, color="0.9", zorder=0)
    y = np.arange(len(frame))
    failed = (frame["status"] == "ERROR").to_numpy()
    visible_start = axis.forward(start)
    visible_width = np.maximum(axis.forward(start + width) - visible_start, axis.end / 400)
    ax.barh(y, axis.inverse(visible_start + visible_width) - start, left=start, height=0.6,
            color=[KIND_COLORS.get(k, "0.5") for k in frame["kind"]],
            edgecolor=[ERROR_COLOR if f else "none" for f in failed], linewidth=2)  # fmt: skip
    for yi, s, w, f, message in zip(y, start, width, failed, frame["status_message"], strict=True):
        text = "  " + _human(w) + (f"  ✗ {str(message)[:50]}" if f else "")
        ax.text(axis.inverse(axis.forward(s + w)), float(yi), text, va="center", fontsize=8,
                color=ERROR_COLOR if f else "0.25")  # fmt: skip
    names = ["  " * d + ("└ " if d else "") + n for d, n in zip(frame["depth"], frame["name"],
                                                                  strict=True)]  # fmt: skip
    ax.set_yticks(y, names, fontfamily="monospace", fontsize=9, ha="left")
    ax.tick_params(axis="y", pad=5.6 * max(len(n) for n in names) + 6)
    ax.set_ylim(len(frame) - 0.5, -0.5)
    ax.set_xlim(axis.inverse(-axis.end * 0.01), axis.inverse(axis.end * 1.25))
    squeezed = len(axis.segments) > 1
    ax.set_xlabel("time since the run started (ms" + ("; after a squeezed wait: its end, then +ms)"
                                                      if squeezed else ")"))  # fmt: skip
    ax.set_title(f"{title}: {len(frame)} spans over {_human(end)}", loc="left")
    kinds = [k for k in KIND_COLORS if k in set(frame["kind"])]
    handles = [Patch(color=KIND_COLORS[k], label=KIND_LABELS[k]) for k in kinds]
    if failed.any():
        handles.append(Patch(facecolor="white", edgecolor=ERROR_COLOR, linewidth=2,
                             label="error"))  # fmt: skip
    if squeezed:
        handles.append(Patch(color="0.9", label="idle time, squeezed"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
              title="span kind", title_fontsize=8)  # fmt: skip
    ax.grid(axis="x", alpha=0.3)
    return fig


def _percentile_bars(ax: Axes, frame: pd.DataFrame, by: str, title: str) -> None:
    import numpy as np

    ax.set_title(title)
    if frame.empty:
        ax.text(0.5, 0.5, "no data", ha="center", transform=ax.transAxes)
        return
    frame = frame.sort_values("p50_ms")
    y = np.arange(len(frame))
    for offset, (column, label, shade) in enumerate(
        [("p50_ms", "p50", "#4C72B0"), ("p90_ms", "p90", "#DD8452"), ("p99_ms", "p99", "#C44E52")]
    ):
        ax.barh(y + (offset - 1) * 0.26, frame[column], height=0.26, label=label, color=shade)
    names = [f"{name} (n={count})" for name, count in zip(frame[by], frame["count"], strict=True)]
    ax.set_yticks(y, names)
    ax.set_xlabel("latency (ms)")
    positive = frame["p50_ms"][frame["p50_ms"] > 0]
    if len(positive) and frame["p99_ms"].max() / positive.min() > 100:
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale)")
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)


def latency_plot(db: frames.DB | None = None, **filters: Any) -> Figure:
    """p50 / p90 / p99 latency per agent (runs, approval waits excluded) and per tool."""
    agents = frames.latency("agent", db, **filters)
    tools = frames.latency("tool", db, **filters)
    rows = max(len(agents), len(tools), 2)
    fig = _figure(12, 1.5 + 0.55 * rows)
    left, right = fig.subplots(1, 2)
    _percentile_bars(left, agents, "agent", "Run latency per agent")
    _percentile_bars(right, tools, "tool", "Tool call latency per tool")
    fig.suptitle("Latency percentiles")
    return fig


def usage_plot(
    db: frames.DB | None = None, *, freq: str | None = None, top: int = 8, **filters: Any
) -> Figure:
    """Tokens and cost (USD) of model calls per time bucket, stacked by session (the
    ``top`` sessions by tokens; the rest as "other")."""
    import numpy as np

    frame = frames.usage(db, freq=freq, **filters)
    fig = _figure(12, 7)
    tokens_ax, cost_ax = fig.subplots(2, 1, sharex=True)
    fig.suptitle("Tokens and cost per session over time")
    if frame.empty:
        tokens_ax.text(0.5, 0.5, "no model calls", ha="center", transform=tokens_ax.transAxes)
        return fig
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import StrMethodFormatter

    ranking = frame.groupby("session_id")["tokens"].sum().sort_values(ascending=False)
    keep = set(ranking.index[:top])
    frame = frame.assign(series=frame["session_id"].where(frame["session_id"].isin(keep), "other"))
    buckets = sorted(frame["bucket"].unique())
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(buckets)]
    step = min((g for g in gaps if g > 0), default=None)
    x = [b.to_pydatetime() if hasattr(b, "to_pydatetime") else b for b in buckets]
    order = list(ranking.index[:top]) + (["other"] if len(ranking) > top else [])
    palette = [f"C{i}" for i in range(10)]
    for column, ax, unit in (("tokens", tokens_ax, "tokens"), ("cost_usd", cost_ax, "USD")):
        table = frame.pivot_table(index="bucket", columns="series", values=column,
                                  aggfunc="sum").reindex(buckets)  # fmt: skip
        bottom = np.zeros(len(buckets))
        for i, series in enumerate(order):
            values = table[series].fillna(0).to_numpy() if series in table else bottom * 0
            color = "0.75" if series == "other" else palette[i % len(palette)]
            ax.bar(x, values, bottom=bottom, width=(step or 60) / 86400 * 0.9, align="edge",
                   label=str(series)[:24], color=color)  # fmt: skip
            bottom += values
        ax.set_ylabel(unit)
        ax.grid(axis="y", alpha=0.3)
    tokens_ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    cost_ax.yaxis.set_major_formatter(StrMethodFormatter("${x:,.2f}"))
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    cost_ax.xaxis.set_major_locator(locator)
    cost_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    tokens_ax.set_title("Tokens (prompt + completion)")
    priced = frame["cost_usd"].notna().any()
    cost_ax.set_title("Cost (USD)" + ("" if priced else ": no model with a known price"))
    tokens_ax.legend(title="session", fontsize=7, ncols=2, loc="upper left")
    every = _human(step * 1000) if step else "one bucket"
    cost_ax.set_xlabel(f"time (UTC), one bar per {every}")
    return fig
