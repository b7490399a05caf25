"""Measurement helpers shared by both sides of the bench (stdlib only).

``bench/agno_side.py`` runs in Agno's own venv and imports this file as ``_stats``; the
agno-nb side imports it as ``bench._stats``. Both frameworks are therefore timed by the
same code: same clock (``time.perf_counter``), same interleaving, same GC handling.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Summary = dict[str, float]


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def summarize(samples: list[float]) -> Summary:
    """Median, p90, min and count of ``samples`` (seconds), in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    p90 = statistics.quantiles(ms, n=10, method="inclusive")[8] if len(ms) > 1 else ms[0]
    return {"median": statistics.median(ms), "p90": p90, "min": ms[0], "n": float(len(ms))}


class Loops:
    """One event loop per variant, so that what a run leaves behind on its loop (an async
    generator finalised late, a callback) is paid by that variant's next run, not by
    another variant's. Each loop is driven from synchronous code (``run_until_complete``)
    so that async and sync variants are timed alike."""

    def __init__(self) -> None:
        self._loops: list[asyncio.AbstractEventLoop] = []

    def new(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        self._loops.append(loop)
        return loop

    def runner(self, make: Callable[[], Awaitable[Any]]) -> Callable[[], Any]:
        """A plain callable running ``make()`` to completion on a loop of its own."""
        loop = self.new()
        return lambda: loop.run_until_complete(make())

    def close(self) -> None:
        for loop in self._loops:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        self._loops.clear()


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(
    variants: Mapping[str, Callable[[], Any]],
    *,
    iterations: int,
    warmup: int,
    after: Mapping[str, Callable[[], Any]] | None = None,
    label: str = "",
) -> dict[str, list[float]]:
    """Time each variant ``warmup + iterations`` times, round robin.

    Each round runs every variant once, in a fresh random order (seeded, so runs repeat),
    so that slow drift (CPU frequency, a growing database, other processes) and whatever
    one variant leaves behind (a background thread still busy) hit all of them alike.
    ``after[name]`` runs untimed right after variant ``name`` (say, waiting for its
    write-behind work, so that it does not land on the next variant); its own duration is
    kept under ``"name+after"``. Warm-up rounds are dropped. Returns seconds per call.
    """
    after = after or {}
    names = list(variants)
    order = random.Random(1234)
    samples: dict[str, list[float]] = {name: [] for name in names}
    samples.update({f"{name}+after": [] for name in after})
    gc.collect()
    total = warmup + iterations
    for i in range(total):
        order.shuffle(names)
        for name in names:
            elapsed = _timed(variants[name])
            settle = _timed(after[name]) if name in after else None
            if i >= warmup:
                samples[name].append(elapsed)
                if settle is not None:
                    samples[f"{name}+after"].append(settle)
        if label and (i + 1) % max(1, total // 4) == 0:
            progress(f"{label}: round {i + 1}/{total}")
    return samples


def sequential(
    fn: Callable[[], Any],
    *,
    runs: int,
    label: str = "",
    before: Callable[[], Any] | None = None,
) -> list[float]:
    """Time ``runs`` calls of ``fn`` in order (seconds each), with progress lines;
    ``before`` runs untimed before each call."""
    gc.collect()
    samples: list[float] = []
    for i in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
        if label and (i + 1) % max(1, runs // 5) == 0:
            recent = statistics.median(samples[-50:]) * 1000
            progress(f"{label}: run {i + 1}/{runs}, median of the last 50 {recent:.2f} ms")
    return samples


def head_tail(samples: list[float], window: int = 50) -> Summary:
    """Median (ms) of the first and last ``window`` samples, and their ratio."""
    first = statistics.median(samples[:window]) * 1000
    last = statistics.median(samples[-window:]) * 1000
    return {"first": first, "last": last, "ratio": last / first, "runs": float(len(samples))}


def instantiation_us(factory: Callable[[], Any], *, n: int, repeats: int) -> Summary:
    """Microseconds per ``factory()`` call: ``repeats`` batches of ``n`` objects kept in a
    list (GC enabled, as in real use); median and best batch."""
    for _ in range(100):
        factory()
    per_call: list[float] = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        kept = [factory() for _ in range(n)]
        per_call.append((time.perf_counter() - start) / n * 1e6)
        del kept
    return {"median": statistics.median(per_call), "best": min(per_call), "n": float(n)}


def kib_per_object(factory: Callable[[], Any], *, n: int) -> float:
    """KiB allocated and still held per object, creating ``n`` objects kept in a list
    (tracemalloc; one-time caches are warmed up first)."""
    warm = [factory() for _ in range(100)]
    del warm
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [factory() for _ in range(n)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return (after - before) / n / 1024
