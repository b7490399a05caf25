"""Section ``tracing``: what spans cost to record, write and read.

1. Ingest: 1M span rows (runs of 5 spans: AGENT, LLM, TOOL, TOOL, LLM, with realistic
   text) handed to a DuckDB file store run by run (``record_spans``), until committed.
2. Overhead: the bench scenario (2 model calls + 1 tool call against the fake server
   process on 127.0.0.1) with the DuckDB store on, tracing on vs off, interleaved.
3. Read: GROUP BY over those 1M spans into a pandas DataFrame through ``analytics.sql``
   (a job of the store thread), and ``analytics.latency`` (percentiles).

``python -m bench tracing`` runs it with the other sections; ``python -m bench.tracing``
runs it alone and replaces only its own part of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench._context import BENCH_DIR, Context, wait_for_quiet
from bench._report import Section, ms, render
from bench._scenario import API_KEY, INSTRUCTIONS, MAX_TOKENS, MODEL_ID, PROMPT, get_weather
from bench._stats import Loops, interleaved, progress, summarize

INGEST_TARGET = 500_000
OVERHEAD_TARGET = 0.05
GROUP_BY_TARGET_MS = 50.0
SPANS_PER_RUN = 5


_TEXT = "What is the weather in Paris? Please answer briefly, in metric units. " * 2
_LLM = ("claude-haiku-4-5", None, 1200, 80, 0, 0, 0.0012, 0.0004, 0.0016)
_TOOL = (None, "get_weather", None, None, None, None, None, None, None)
_NONE = (None,) * 9
# kind, name, start and end (ns after the run started), typed values, output, extra
_SHAPE = (
    ("AGENT", "invoke_agent bench", 0, 9_000_000, _NONE, "Sunny, 21 degrees.", None),
    ("LLM", "chat claude-haiku-4-5", 100_000, 4_000_000, _LLM, "tool_use ...",
     '{"llm.stop_reason": "tool_use"}'),
    ("TOOL", "execute_tool get_weather", 4_100_000, 4_300_000, _TOOL,
     "Sunny, 21 degrees in Paris.", None),
    ("TOOL", "execute_tool get_weather", 4_300_000, 4_500_000, _TOOL,
     "Sunny, 19 degrees in Lyon.", None),
    ("LLM", "chat claude-haiku-4-5", 4_600_000, 8_900_000, _LLM, "It is sunny.",
     '{"llm.stop_reason": "end_turn"}'),
)  # fmt: skip


def _rows(runs: int) -> list[list[tuple[Any, ...]]]:
    """``runs`` runs' span rows, as the recorder hands them over (one list per run)."""
    from agno_nb.spans import new_span_id, new_trace_id

    start = time.time_ns()
    out = []
    for i in range(runs):
        trace, root, t = new_trace_id(), new_span_id(), start + i * 10_000_000
        ids = (f"run_{trace}", f"ses_{i % 500}", f"user{i % 50}", f"agent{i % 4}")
        out.append([
            (trace, root if kind == "AGENT" else new_span_id(), None if kind == "AGENT" else root,
             name, kind, t + a, t + b, "OK", None, *ids, *values, _TEXT, text, None, extra)
            for kind, name, a, b, values, text, extra in _SHAPE
        ])  # fmt: skip
    return out


def ingest(ctx: Context, total: int) -> tuple[float, float, float]:
    """(spans/s from first hand-over to commit, µs per span in the caller, spans/s of the
    write job alone)."""
    from agno_nb.storage._spans import insert_spans
    from agno_nb.storage.duckdb import DuckDBStore

    batches = _rows(total // SPANS_PER_RUN)
    progress(f"ingest: {total:,} spans")
    with DuckDBStore(ctx.path("ingest.duckdb"), idle_release=60) as store:
        store.flush()
        started = time.perf_counter()
        caller = 0.0
        for rows in batches:
            t = time.perf_counter()
            store.record_spans(rows)
            caller += time.perf_counter() - t
        store.flush()
        elapsed = time.perf_counter() - started
        flat = [row for rows in batches[:40_000] for row in rows]
        t = time.perf_counter()
        store.call(lambda con: insert_spans(con, flat))
        alone = len(flat) / (time.perf_counter() - t)
    return total / elapsed, caller / total * 1e6, alone


def overhead(ctx: Context, iterations: int, warmup: int) -> dict[str, list[float]]:
    from agno_nb import Agent, Claude

    loops = Loops()
    agents = {}
    for name, tracing in (("off", False), ("off2", False), ("on", True)):  # off2: A/A control
        model = Claude(MODEL_ID, api_key=API_KEY, base_url=ctx.url, max_tokens=MAX_TOKENS)
        agents[name] = Agent("bench", model=model, instructions=INSTRUCTIONS,
                             tools=[get_weather], db=ctx.path(f"overhead-{name}.duckdb"),
                             tracing=tracing)  # fmt: skip

    def runner(agent: Any) -> Callable[[], Any]:
        return loops.runner(lambda: agent.arun(PROMPT))

    def flusher(agent: Any) -> Callable[[], None]:
        return lambda: agent.store.flush()

    variants = {name: runner(agent) for name, agent in agents.items()}
    after = {name: flusher(agent) for name, agent in agents.items()}
    try:
        return interleaved(variants, iterations=iterations, warmup=warmup, after=after,
                           label="tracing overhead")  # fmt: skip
    finally:
        loops.close()


def _paired(a: list[float], b: list[float]) -> float:
    """The median of the differences of samples taken in the same round."""
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


def _flush(agent: Any) -> None:
    store = agent.store
    assert store is not None
    store.flush()


def back_to_back(ctx: Context, blocks: int, runs: int) -> dict[str, list[float]]:
    """Seconds per run of blocks of back-to-back runs, write-behind work included (each
    block ends with ``store.flush()``); the two variants alternate block by block."""
    import asyncio

    from agno_nb import Agent, Claude

    loop = asyncio.new_event_loop()
    agents = {}
    for name, tracing in (("off", False), ("on", True)):
        model = Claude(MODEL_ID, api_key=API_KEY, base_url=ctx.url, max_tokens=MAX_TOKENS)
        agents[name] = Agent("bench", model=model, instructions=INSTRUCTIONS,
                             tools=[get_weather], db=ctx.path(f"b2b-{name}.duckdb"),
                             tracing=tracing)  # fmt: skip

    async def block(agent: Any, n: int) -> None:
        for _ in range(n):
            await agent.arun(PROMPT)

    samples: dict[str, list[float]] = {"off": [], "on": []}
    try:
        for agent in agents.values():  # warm up
            loop.run_until_complete(block(agent, 10))
            _flush(agent)
        for i in range(blocks):
            for name in ("off", "on") if i % 2 == 0 else ("on", "off"):
                agent = agents[name]
                started = time.perf_counter()
                loop.run_until_complete(block(agent, runs))
                _flush(agent)
                samples[name].append((time.perf_counter() - started) / runs)
            progress(f"back to back: block {i + 1}/{blocks}")
    finally:
        loop.close()
    return samples


def read(ctx: Context, repeats: int) -> tuple[list[float], list[float], int]:
    from agno_nb import analytics

    db = ctx.path("ingest.duckdb")
    group_by = (
        "SELECT agent_id, kind, count(*) AS spans, avg(duration_ms) AS mean_ms, "
        "sum(prompt_tokens) AS prompt_tokens, sum(cost_usd) AS cost_usd "
        "FROM spans GROUP BY ALL"
    )
    rows = int(analytics.sql("SELECT count(*) AS n FROM spans", db=db)["n"].iloc[0])
    timings: dict[str, list[float]] = {"group_by": [], "latency": []}
    for _ in range(repeats):
        t = time.perf_counter()
        analytics.sql(group_by, db=db)
        timings["group_by"].append(time.perf_counter() - t)
        t = time.perf_counter()
        analytics.latency("tool", db=db)
        timings["latency"].append(time.perf_counter() - t)
    return timings["group_by"], timings["latency"], rows


def tracing(ctx: Context) -> Section:
    total = ctx.n(1_000_000, minimum=100_000) // SPANS_PER_RUN * SPANS_PER_RUN
    section = Section(
        "Tracing",
        ["measure", "value", "detail"],
        "Spans recorded, written and read back (DuckDB file stores in a temporary folder).",
    )
    rate, caller_us, alone = ingest(ctx, total)
    section.add("span ingest, hand-over to commit", f"{rate:,.0f} spans/s",
                f"{total:,} spans, {SPANS_PER_RUN} per `record_spans` call")  # fmt: skip
    section.add("... caller's cost", f"{caller_us:.2f} µs/span", "lock + list extend")
    section.add("... write job alone", f"{alone:,.0f} spans/s",
                "rows -> Arrow -> one INSERT, 200k spans")  # fmt: skip
    iterations, warmup = ctx.n(300), ctx.n(30)
    samples = overhead(ctx, iterations, warmup)
    stats = {k: summarize(v) for k, v in samples.items()}
    off, on = stats["off"]["median"], stats["on"]["median"]
    extra = _paired(samples["on"], samples["off"]) * 1000 / off  # samples in s, stats in ms
    noise = _paired(samples["off2"], samples["off"]) * 1000 / off
    section.add("run, store on, tracing off", f"{ms(off, 3)} ms",
                f"median of {iterations}; p90 {ms(stats['off']['p90'], 3)} ms")  # fmt: skip
    section.add("run, store on, tracing on", f"{ms(on, 3)} ms",
                f"median of {iterations}; p90 {ms(stats['on']['p90'], 3)} ms")  # fmt: skip
    section.add("tracing overhead per run", f"{extra * off * 1000:+.0f} µs ({extra:+.1%})",
                "median of the per-round differences on - off")  # fmt: skip
    section.add("... the same for two identical agents (A/A)",
                f"{noise * off * 1000:+.0f} µs ({noise:+.1%})",
                "off2 - off: the noise of this measurement on this machine now")  # fmt: skip
    blocks = back_to_back(ctx, ctx.n(20, minimum=4), 40)
    b_off, b_on = (statistics.median(blocks[k]) * 1000 for k in ("off", "on"))
    b_extra = _paired(blocks["on"], blocks["off"]) * 1000 / b_off
    section.add("back to back, writes included, off / on",
                f"{b_off:.3f} / {b_on:.3f} ms ({b_extra:+.1%})",
                f"{len(blocks['on'])} blocks of 40 runs + a flush; median of the "
                "per-block-pair differences")  # fmt: skip
    section.add("store.flush() after a run, off / on",
                f"{ms(stats['off+after']['median'], 3)} / {ms(stats['on+after']['median'], 3)} ms",
                "write-behind work left when the run returned (untimed in the run)")  # fmt: skip
    group_by, latency, rows = read(ctx, ctx.n(30, minimum=10))
    g, lat = statistics.median(group_by) * 1000, statistics.median(latency) * 1000
    best = min(group_by) * 1000
    section.add("GROUP BY agent, kind into a DataFrame", f"{g:.1f} ms",
                f"{rows:,} spans, `analytics.sql`, median; min {best:.1f} ms")  # fmt: skip
    section.add("p50/p90/p99 per tool, `analytics.latency`", f"{lat:.1f} ms",
                f"{rows:,} spans, median")  # fmt: skip
    section.check(
        f"span ingest >= {INGEST_TARGET:,} spans/s", f"{rate:,.0f}", rate >= INGEST_TARGET
    )
    section.check(f"tracing overhead <= {OVERHEAD_TARGET:.0%} of a run", f"{extra:+.1%}",
                  extra <= OVERHEAD_TARGET)  # fmt: skip
    section.check(f"... back to back, writes included <= {OVERHEAD_TARGET:.0%}",
                  f"{b_extra:+.1%}", b_extra <= OVERHEAD_TARGET)  # fmt: skip
    section.check(f"GROUP BY over 1M spans <= {GROUP_BY_TARGET_MS:.0f} ms", f"{g:.1f} ms",
                  g <= GROUP_BY_TARGET_MS and rows >= 1_000_000)  # fmt: skip
    section.notes += [
        "Ingest: the caller's cost is what a run pays when it ends (its spans were built and "
        "scrubbed during the run); the store writes the buffer at most every 100 ms (Arrow "
        "conversion, one INSERT ... SELECT per write).",
        "Overhead: two agents on two DuckDB files, identical but for `tracing`; each run is "
        "followed by an untimed `store.flush()` so that write-behind work (the run row and "
        "its spans) does not land on the other variant.",
    ]
    return section


def _replace_section(path: Any, text: str) -> None:
    """Put ``text`` (a rendered section) in ``path`` in place of the old "## Tracing" one."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    start = old.find("## Tracing\n")
    if start < 0:
        path.write_text(old.rstrip("\n") + "\n\n" + text, encoding="utf-8")
        return
    following = old.find("\n## ", start + 1)
    rest = old[following + 1 :] if following >= 0 else ""
    path.write_text(old[:start] + text + ("\n" + rest if rest else ""), encoding="utf-8")


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    ctx = Context(scale=0.2 if quick else 1.0)
    try:
        quiet = wait_for_quiet()
        started = time.perf_counter()
        section = tracing(ctx)
        section.notes.append(quiet)
    finally:
        ctx.close()
    section.seconds = time.perf_counter() - started
    command = "python -m bench.tracing" + (" --quick" if quick else "")
    section.description += f" Command: `{command}`."
    text = render(section)
    print(text)
    if "--no-write" not in argv:
        _replace_section(BENCH_DIR / "RESULTS.md", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
