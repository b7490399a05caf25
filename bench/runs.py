"""Sections ``overhead``, ``session`` and ``new-agent``: the cost of a run.

A run is the scenario of ``bench._scenario`` (two model calls, one tool call) against the
fake server process. agno-nb and its raw SDK baselines are timed here, interleaved; Agno
and its own baselines in Agno's venv (``agno_side.py``), against the same server. The two
processes take turns in chunks, so that load from outside hits both alike.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import _nb
from bench._context import Context
from bench._raw import raw_create, raw_events, raw_stream
from bench._report import UNAVAILABLE, Section, ms, ratio
from bench._scenario import PROMPT
from bench._stats import Loops, Summary, head_tail, interleaved, progress, summarize

OFF_TARGET_MS = 0.5
ON_TARGET_MS = 1.0
FLAT_TARGET = 1.10
WARM_UP_RUNS = 200
NEW_AGENT_TARGET_MS = 1.0
CHUNKS = 3

Samples = dict[str, list[float]]
Variants = dict[str, tuple[str, str | None]]

# variant key -> (label, baseline key); the baseline is measured in the same process
NB_VARIANTS: Variants = {
    "raw_events": ("raw SDK stream, raw events (agno-nb's baseline)", None),
    "raw_stream": ("raw SDK `messages.stream`", None),
    "raw_create": ("raw SDK `messages.create`", None),
    "nb_off": ("agno-nb `await arun()`, store off (`db=False`)", "raw_events"),
    "nb_on": ("agno-nb `await arun()`, DuckDB file + history", "raw_events"),
    "nb_on+after": ("... its write-behind, `store.flush()` after the run", None),
    "nb_sync": ("agno-nb `run()` (sync), store off", "raw_events"),
}
AGNO_VARIANTS: Variants = {
    "raw_create": ("raw SDK `messages.create` (Agno's baseline)", None),
    "raw_stream": ("raw SDK `messages.stream`", None),
    "raw_sync_create": ("raw sync SDK `messages.create`", None),
    "agno_arun": ("Agno `await arun()`, no db", "raw_create"),
    "agno_arun_sqlite_history": ("Agno `await arun()`, SqliteDb + history", "raw_create"),
    "agno_run_sync": ("Agno `run()` (sync), no db", "raw_sync_create"),
}
PAIRS = (
    ("store off / no db", "nb_off", "agno_arun"),
    ("store + history", "nb_on", "agno_arun_sqlite_history"),
    ("sync run", "nb_sync", "agno_run_sync"),
)


@dataclass(slots=True)
class Pooled:
    """Samples of both sides, pooled over the chunks; ``agno_error`` if Agno failed."""

    nb: Samples = field(default_factory=dict)
    agno: Samples = field(default_factory=dict)
    agno_version: str = ""
    agno_error: str = ""

    def add(self, target: Samples, samples: Samples) -> None:
        for key, values in samples.items():
            target.setdefault(key, []).extend(values)


def alternate(
    ctx: Context,
    measure_nb: Callable[[int, int], Samples],
    command: str,
    *,
    iterations: int,
    warmup: int,
) -> Pooled:
    """agno-nb and Agno take turns, ``CHUNKS`` times, each chunk with its own warm-up."""
    pooled = Pooled()
    per_chunk = max(1, iterations // CHUNKS)
    chunk_warmup = max(5, warmup // CHUNKS)
    for chunk in range(CHUNKS):
        progress(f"{command}: chunk {chunk + 1}/{CHUNKS}, agno-nb")
        pooled.add(pooled.nb, measure_nb(per_chunk, warmup if chunk == 0 else chunk_warmup))
        if pooled.agno_error:
            continue
        progress(f"{command}: chunk {chunk + 1}/{CHUNKS}, Agno")
        agno = ctx.agno_side(command, url=ctx.url, iterations=per_chunk, warmup=chunk_warmup)
        if isinstance(agno, str):
            pooled.agno_error = agno
        else:
            pooled.add(pooled.agno, agno["samples"])
            pooled.agno_version = agno["versions"]["agno"]
    return pooled


# -- run overhead ---------------------------------------------------------------------------


class NbOverhead:
    """agno-nb's variants for the overhead section, kept across chunks."""

    def __init__(self, ctx: Context) -> None:
        url = ctx.url
        self.loops = Loops()
        stream_client, create_client = _nb.async_client(url), _nb.async_client(url)
        events_client = _nb.async_client(url)
        off = _nb.agent(url)
        self.on = _nb.agent(url, db=ctx.path("overhead.duckdb"), history=True, session_id="o")
        sync_agent = _nb.agent(url)
        self.variants: dict[str, Callable[[], Any]] = {
            "raw_events": self.loops.runner(lambda: raw_events(events_client)),
            "raw_stream": self.loops.runner(lambda: raw_stream(stream_client)),
            "raw_create": self.loops.runner(lambda: raw_create(create_client)),
            "nb_off": self.loops.runner(lambda: off.arun(PROMPT)),
            "nb_on": self.loops.runner(lambda: self.on.arun(PROMPT)),
            "nb_sync": lambda: sync_agent.run(PROMPT),
        }
        _nb.check_run(self.variants["nb_off"]())

    def flush(self) -> None:
        assert self.on.store is not None
        self.on.store.flush()

    def measure(self, iterations: int, warmup: int) -> Samples:
        return interleaved(
            self.variants,
            iterations=iterations,
            warmup=warmup,
            after={"nb_on": self.flush},
            label="agno-nb overhead",
        )


def _overheads(stats: dict[str, Summary], variants: Variants) -> dict[str, float]:
    return {
        key: stats[key]["median"] - stats[base]["median"]
        for key, (_, base) in variants.items()
        if base is not None
    }


def _add_rows(
    section: Section, side: str, samples: Samples, variants: Variants
) -> dict[str, float]:
    stats = {key: summarize(values) for key, values in samples.items()}
    over = _overheads(stats, variants)
    for key, (label, base) in variants.items():
        s = stats[key]
        extra = f"{over[key]:+.2f}" if key in over else "-"
        section.add(side, label, ms(s["median"]), ms(s["p90"]), base or "-", extra)
    return over


def overhead(ctx: Context) -> Section:
    iterations, warmup = ctx.n(300), ctx.n(30)
    section = Section(
        "3. Run overhead over the raw SDK",
        ["process", "variant", "median ms", "p90 ms", "baseline", "overhead ms"],
        f"A run = 2 model calls + 1 tool call against the fake server process on 127.0.0.1 "
        f"(zero delay). {iterations} runs per variant in {CHUNKS} chunks that alternate "
        f"between the two processes ({warmup} warm-up rounds first, then "
        f"{max(5, warmup // CHUNKS)} per chunk); each round runs every variant once in a "
        "random order; one event loop per variant; overhead = median - median of the baseline.",
    )
    nb_side = NbOverhead(ctx)
    pooled = alternate(ctx, nb_side.measure, "overhead", iterations=iterations, warmup=warmup)
    nb_side.loops.close()
    nb_over = _add_rows(section, "agno-nb venv", pooled.nb, NB_VARIANTS)
    agno_over: dict[str, float] | None = None
    if pooled.agno_error:
        section.add("Agno venv", "Agno", UNAVAILABLE, UNAVAILABLE, "-", pooled.agno_error)
    else:
        side = f"Agno {pooled.agno_version} venv"
        agno_over = _add_rows(section, side, pooled.agno, AGNO_VARIANTS)
        for label, nb_key, agno_key in PAIRS:
            cell = ratio(nb_over[nb_key], agno_over[agno_key])
            section.add("ratio", f"overhead agno-nb / Agno, {label}", "-", "-", "-", cell)
    _overhead_checks(section, nb_over, agno_over)
    section.notes += [
        "Each overhead is taken against the raw SDK measured in the same process, same run: "
        "agno-nb streams, so its baseline is the cheapest way to stream with the SDK, the "
        "very calls agno-nb makes: `messages.with_streaming_response.create(stream=True)` "
        "read through `AsyncStream.raw_events`, each event's JSON as a dict "
        "(`messages.create(stream=True)` adds a typed model per event, `messages.stream` its "
        "snapshots on top). Agno calls `messages.create`.",
        "Store + history: one session for all runs (history = the last 3 runs), so requests "
        "carry 4 runs' messages; Agno reads the whole session each run.",
        "agno-nb writes runs behind the caller: the store-on run is timed as the caller waits "
        "for it, then `store.flush()` runs untimed (its time is the `nb_on+after` row) so that "
        "the write lands on no other variant. Section 4 times runs back to back, writes "
        "included.",
    ]
    return section


def _overhead_checks(section: Section, nb: dict[str, float], agno: dict[str, float] | None) -> None:
    off, on = nb["nb_off"], nb["nb_on"]
    section.check(
        f"agno-nb store off overhead <= {OFF_TARGET_MS} ms", f"{off:.2f} ms", off <= OFF_TARGET_MS
    )
    theirs = None if agno is None else agno["agno_arun"]
    section.check(
        "agno-nb store off overhead <= Agno's (no db)",
        f"{off:.2f} vs {ms(theirs)} ms",
        None if theirs is None else off <= theirs,
    )
    section.check(
        f"agno-nb store on overhead <= {ON_TARGET_MS} ms", f"{on:.2f} ms", on <= ON_TARGET_MS
    )


# -- flat in session length -----------------------------------------------------------------


CONTROL_SESSION_RUNS = 10  # the control's sessions stay this short


def _nb_session(
    ctx: Context, runs: int, *, settle: bool
) -> tuple[Summary, Summary, Summary, float]:
    """One long session, and a control interleaved with it run for run: the same agent on
    a store of its own whose sessions stay short (a new one every ``CONTROL_SESSION_RUNS``
    runs), so that its table grows alike but no session does. What the machine does
    meanwhile (clock, other work: it moves medians by a third here over 1000 runs) hits
    both alike and cancels out of their ratio; session length hits only the long one.

    Returns (long session, control) first/last-50 summaries, the long session's summary
    and the time ``store.flush()`` took after its last run."""
    loops = Loops()
    name = "settled" if settle else "session"
    agent = _nb.agent(ctx.url, db=ctx.path(f"{name}.duckdb"), history=True, session_id="long")
    control = _nb.agent(ctx.url, db=ctx.path(f"{name}-control.duckdb"), history=True)
    stores = [agent.store, control.store]
    assert stores[0] is not None and stores[1] is not None
    count = itertools.count()
    variants = {
        "long": loops.runner(lambda: agent.arun(PROMPT)),
        "control": loops.runner(
            lambda: control.arun(PROMPT, session_id=f"c{next(count) // CONTROL_SESSION_RUNS}")
        ),
    }
    # the stores in their steady state first (runs of another session): the first runs of
    # a fresh store see no write-behind yet, which would flatter "first 50" against "last 50"
    for one in (agent, control):
        warm = loops.runner(lambda one=one: one.arun(PROMPT, session_id="warm-up"))
        for _ in range(WARM_UP_RUNS):
            warm()
    label = "agno-nb session, flushed between runs" if settle else "agno-nb session"
    after = {"long": stores[0].flush, "control": stores[1].flush} if settle else None
    samples = interleaved(variants, iterations=runs, warmup=0, after=after, label=label)
    start = time.perf_counter()
    stores[0].flush()
    flush_ms = (time.perf_counter() - start) * 1000
    loops.close()
    return (
        head_tail(samples["long"]), head_tail(samples["control"]), summarize(samples["long"]),
        flush_ms,
    )  # fmt: skip


def session_length(ctx: Context) -> Section:
    runs = ctx.n(1000, 100)
    section = Section(
        "4. Flat in session length",
        ["framework", "store", "first 50 median ms", "last 50 median ms", "last / first",
         "drift-corrected", "all median ms", "all p90 ms"],
        f"{runs} runs in one session, with the store and history on (the last 3 runs); "
        "medians of the first and last 50 run times. Each of its runs is followed or "
        f"preceded (at random) by one of a control: the same agent on a store of its own, "
        f"in sessions of {CONTROL_SESSION_RUNS} runs. Drift-corrected = the session's last / "
        "first over the control's: what session length costs, with the machine's drift "
        f"cancelled out. Each store first serves {WARM_UP_RUNS} runs of another session, so "
        "that both windows see its write-behind in its steady state.",
    )  # fmt: skip
    checked: Summary = {}
    for settle, what in ((False, "agno-nb"),
                         (True, "agno-nb, `store.flush()` (untimed) after each run")):  # fmt: skip
        head, ctl, whole, flush_ms = _nb_session(ctx, runs, settle=settle)
        corrected = head["ratio"] / ctl["ratio"]
        section.add(what, "DuckDB file", ms(head["first"]), ms(head["last"]),
                    f"{head['ratio']:.2f}", f"{corrected:.2f}", ms(whole["median"]),
                    ms(whole["p90"]))  # fmt: skip
        section.add("... its control (short sessions)", "DuckDB file", ms(ctl["first"]),
                    ms(ctl["last"]), f"{ctl['ratio']:.2f}", "-", "-", "-")  # fmt: skip
        if not settle:
            checked = {**head, "corrected": corrected, "flush_ms": flush_ms}
    progress("session: Agno")
    agno = ctx.agno_side("session", url=ctx.url, runs=runs, warm_up=WARM_UP_RUNS)
    if isinstance(agno, str):
        section.add("Agno", "SqliteDb", UNAVAILABLE, UNAVAILABLE, "-", "-", "-", agno)
    else:
        a_head, a_all = agno["head_tail"], agno["all"]
        section.add(f"Agno {agno['versions']['agno']}", "SqliteDb", ms(a_head["first"]),
                    ms(a_head["last"]), f"{a_head['ratio']:.2f}", "-", ms(a_all["median"]),
                    ms(a_all["p90"]))  # fmt: skip
        section.add("agno-nb (back to back) / Agno", "-", ratio(checked["first"], a_head["first"]),
                    ratio(checked["last"], a_head["last"]), "-", "-", "-", "-")  # fmt: skip
    section.check(
        f"agno-nb last 50 <= {FLAT_TARGET:.2f} x first 50, drift-corrected",
        f"{checked['corrected']:.3f} (raw {checked['ratio']:.3f}: {checked['first']:.2f} -> "
        f"{checked['last']:.2f} ms)",
        checked["corrected"] <= FLAT_TARGET,
    )
    section.notes.append(
        "Back to back (the target's row), agno-nb's write-behind of earlier runs overlaps "
        f"the next runs; `store.flush()` after the last run took {checked['flush_ms']:.1f} "
        "ms. The second agno-nb row waits for the writes after each run (untimed), as when "
        "runs are seconds apart in a notebook. Agno's row has no control (its raw ratio "
        "carries the machine's drift)."
    )
    return section


# -- a new agent per run --------------------------------------------------------------------


class NbNewAgent:
    """agno-nb's two variants for the new-agent section, kept across chunks."""

    def __init__(self, ctx: Context) -> None:
        url = ctx.url
        self.loops = Loops()
        reused = _nb.agent(url)
        shared = _nb.shared_tool()
        self.variants: dict[str, Callable[[], Any]] = {
            "reuse": self.loops.runner(lambda: reused.arun(PROMPT)),
            "new": self.loops.runner(lambda: _nb.agent(url).arun(PROMPT)),
            "new_shared_tool": self.loops.runner(lambda: _nb.agent(url, tool=shared).arun(PROMPT)),
        }

    def measure(self, iterations: int, warmup: int) -> Samples:
        return interleaved(
            self.variants, iterations=iterations, warmup=warmup, label="agno-nb new agent"
        )


def _extra(samples: Samples, new_key: str = "new") -> tuple[Summary, Summary, float]:
    reuse, new = summarize(samples["reuse"]), summarize(samples[new_key])
    return reuse, new, new["median"] - reuse["median"]


def new_agent(ctx: Context) -> Section:
    iterations, warmup = ctx.n(300), ctx.n(30)
    section = Section(
        "5. New agent per run",
        ["framework", "reuse median ms", "new median ms", "extra ms per run", "new p90 ms"],
        "`Agent(model=Claude(...), instructions=..., tools=[get_weather])` built for every run "
        f"vs one agent reused; no db; {iterations} runs each in {CHUNKS} chunks alternating "
        "with Agno, interleaved. Both frameworks get the plain function `get_weather` (the "
        "target's row); the extra agno-nb row gives every new agent the same `Tool` object.",
    )
    nb_side = NbNewAgent(ctx)
    pooled = alternate(ctx, nb_side.measure, "new-agent", iterations=iterations, warmup=warmup)
    nb_side.loops.close()
    reuse, new, nb_extra = _extra(pooled.nb)
    section.add("agno-nb", ms(reuse["median"]), ms(new["median"]), f"{nb_extra:+.2f}",
                ms(new["p90"]))  # fmt: skip
    _, shared, shared_extra = _extra(pooled.nb, "new_shared_tool")
    section.add("agno-nb, the tool made once (`tool(get_weather)`) and given to every new agent",
                ms(reuse["median"]), ms(shared["median"]), f"{shared_extra:+.2f}",
                ms(shared["p90"]))  # fmt: skip
    if pooled.agno_error:
        section.add("Agno", UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, pooled.agno_error)
    else:
        a_reuse, a_new, a_extra = _extra(pooled.agno)
        section.add(f"Agno {pooled.agno_version}", ms(a_reuse["median"]), ms(a_new["median"]),
                    f"{a_extra:+.2f}", ms(a_new["p90"]))  # fmt: skip
        section.add("agno-nb / Agno", "-", "-", ratio(nb_extra, a_extra), "-")
    section.check(
        f"agno-nb extra per run <= {NEW_AGENT_TARGET_MS} ms",
        f"{nb_extra:.2f} ms",
        nb_extra <= NEW_AGENT_TARGET_MS,
    )
    return section
