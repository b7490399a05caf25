"""Sections ``overhead``, ``session`` and ``new-agent``: the cost of a run.

A run is the scenario of ``bench._scenario`` (two model calls, one tool call) against the
fake server process. agno-nb and the raw SDK baselines are timed here, interleaved; Agno
and its own baselines in Agno's venv (``agno_side.py``), against the same server.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import _nb
from bench._context import Context
from bench._raw import raw_create, raw_stream
from bench._report import UNAVAILABLE, Section, ms, ratio
from bench._scenario import PROMPT
from bench._stats import Summary, head_tail, interleaved, on_loop, progress, sequential, summarize

OFF_TARGET_MS = 0.5
ON_TARGET_MS = 1.0
FLAT_TARGET = 1.10
NEW_AGENT_TARGET_MS = 1.0

# variant key -> (label, baseline key); the baseline is measured in the same process
NB_VARIANTS = {
    "raw_stream": ("raw SDK `messages.stream` (agno-nb's baseline)", None),
    "raw_create": ("raw SDK `messages.create`", None),
    "nb_off": ("agno-nb `await arun()`, store off (`db=False`)", "raw_stream"),
    "nb_on": ("agno-nb `await arun()`, DuckDB store + history", "raw_stream"),
    "nb_sync": ("agno-nb `run()` (sync), store off", "raw_stream"),
}
AGNO_VARIANTS = {
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


def _overheads(
    stats: dict[str, Summary], variants: dict[str, tuple[str, str | None]]
) -> dict[str, float]:
    return {
        key: stats[key]["median"] - stats[base]["median"]
        for key, (_, base) in variants.items()
        if base is not None
    }


def _add_rows(
    section: Section,
    side: str,
    stats: dict[str, Summary],
    variants: dict[str, tuple[str, str | None]],
) -> dict[str, float]:
    over = _overheads(stats, variants)
    for key, (label, base) in variants.items():
        s = stats[key]
        extra = f"+{over[key]:.2f}" if key in over else "-"
        section.add(side, label, ms(s["median"]), ms(s["p90"]), base or "-", extra)
    return over


def _measure_nb(ctx: Context) -> dict[str, Summary]:
    url = ctx.url
    loop = asyncio.new_event_loop()
    client, _ = _nb.raw_clients(url)
    off = _nb.agent(url)
    on = _nb.agent(url, db=ctx.path("overhead.duckdb"), history=True, session_id="overhead")
    sync_agent = _nb.agent(url)
    _nb.check_run(loop.run_until_complete(off.arun(PROMPT)))
    variants = {
        "raw_stream": on_loop(loop, lambda: raw_stream(client)),
        "raw_create": on_loop(loop, lambda: raw_create(client)),
        "nb_off": on_loop(loop, lambda: off.arun(PROMPT)),
        "nb_on": on_loop(loop, lambda: on.arun(PROMPT)),
        "nb_sync": lambda: sync_agent.run(PROMPT),
    }
    samples = interleaved(
        variants, iterations=ctx.n(300), warmup=ctx.n(30), label="agno-nb overhead"
    )
    assert on.store is not None
    on.store.flush()
    loop.run_until_complete(client.close())
    loop.close()
    return {key: summarize(values) for key, values in samples.items()}


def overhead(ctx: Context) -> Section:
    iterations, warmup = ctx.n(300), ctx.n(30)
    section = Section(
        "3. Run overhead over the raw SDK",
        ["process", "variant", "median ms", "p90 ms", "baseline", "overhead ms"],
        f"A run = 2 model calls + 1 tool call against the fake server process on 127.0.0.1 "
        f"(zero delay). {iterations} runs per variant after {warmup} warm-up, variants "
        "interleaved round robin; overhead = median - median of the baseline.",
    )
    nb = _measure_nb(ctx)
    nb_over = _add_rows(section, "agno-nb venv", nb, NB_VARIANTS)
    progress("overhead: Agno")
    agno = ctx.agno_side("overhead", url=ctx.url, iterations=iterations, warmup=warmup)
    agno_over: dict[str, float] | None = None
    if isinstance(agno, str):
        section.add("Agno venv", "Agno", UNAVAILABLE, UNAVAILABLE, "-", agno)
    else:
        agno_over = _add_rows(section, f"Agno {agno['versions']['agno']} venv", agno, AGNO_VARIANTS)
        for label, nb_key, agno_key in PAIRS:
            cell = ratio(nb_over[nb_key], agno_over[agno_key])
            section.add("ratio", f"overhead agno-nb / Agno, {label}", "-", "-", "-", cell)
    _overhead_checks(section, nb_over, agno_over)
    section.notes += [
        "Each overhead is taken against the raw SDK measured in the same process, same run: "
        "agno-nb streams (so its baseline is `messages.stream`), Agno calls `messages.create`.",
        "Store + history: one session for all runs (history = the last 3 runs), so requests "
        "grow to 4 runs' messages; Agno reads the whole session each run.",
    ]
    return section


def _overhead_checks(section: Section, nb: dict[str, float], agno: dict[str, float] | None) -> None:
    off, on = nb["nb_off"], nb["nb_on"]
    section.check(
        f"agno-nb store off overhead <= {OFF_TARGET_MS} ms", f"{off:.2f} ms", off <= OFF_TARGET_MS
    )
    if agno is None:
        section.check("agno-nb store off overhead <= Agno's (no db)", f"{off:.2f} ms", None)
    else:
        theirs = agno["agno_arun"]
        section.check(
            "agno-nb store off overhead <= Agno's (no db)",
            f"{off:.2f} vs {theirs:.2f} ms",
            off <= theirs,
        )
    section.check(
        f"agno-nb store on overhead <= {ON_TARGET_MS} ms", f"{on:.2f} ms", on <= ON_TARGET_MS
    )


# -- flat in session length -----------------------------------------------------------------


def _nb_session(ctx: Context, runs: int) -> tuple[Summary, Summary, float]:
    url = ctx.url
    loop = asyncio.new_event_loop()
    agent = _nb.agent(url, db=ctx.path("session.duckdb"), history=True, session_id="long")
    samples = sequential(
        on_loop(loop, lambda: agent.arun(PROMPT)), runs=runs, label="agno-nb session"
    )
    start = time.perf_counter()
    assert agent.store is not None
    agent.store.flush()
    flush_ms = (time.perf_counter() - start) * 1000
    loop.close()
    return head_tail(samples), summarize(samples), flush_ms


def session_length(ctx: Context) -> Section:
    runs = ctx.n(1000, 100)
    section = Section(
        "4. Flat in session length",
        [
            "framework",
            "store",
            "first 50 median ms",
            "last 50 median ms",
            "last / first",
            "all median ms",
            "all p90 ms",
        ],
        f"{runs} runs in one session, one after the other, with the store and history on "
        "(the last 3 runs); medians of the first and last 50 run times.",
    )
    head, whole, flush_ms = _nb_session(ctx, runs)
    section.add(
        "agno-nb",
        "DuckDB file",
        ms(head["first"]),
        ms(head["last"]),
        f"{head['ratio']:.2f}",
        ms(whole["median"]),
        ms(whole["p90"]),
    )
    progress("session: Agno")
    agno = ctx.agno_side("session", url=ctx.url, runs=runs)
    if isinstance(agno, str):
        section.add("Agno", "SqliteDb", UNAVAILABLE, UNAVAILABLE, "-", "-", agno)
    else:
        a_head, a_all = agno["head_tail"], agno["all"]
        section.add(
            f"Agno {agno['versions']['agno']}",
            "SqliteDb",
            ms(a_head["first"]),
            ms(a_head["last"]),
            f"{a_head['ratio']:.2f}",
            ms(a_all["median"]),
            ms(a_all["p90"]),
        )
        section.add(
            "agno-nb / Agno",
            "-",
            ratio(head["first"], a_head["first"]),
            ratio(head["last"], a_head["last"]),
            "-",
            ratio(whole["median"], a_all["median"]),
            "-",
        )
    section.check(
        f"agno-nb last 50 <= {FLAT_TARGET:.2f} x first 50",
        f"{head['ratio']:.3f} ({head['first']:.2f} -> {head['last']:.2f} ms)",
        head["ratio"] <= FLAT_TARGET,
    )
    section.notes.append(
        f"agno-nb writes runs behind the caller; `store.flush()` after the last run took "
        f"{flush_ms:.1f} ms."
    )
    return section


# -- a new agent per run --------------------------------------------------------------------


def _nb_new_agent(ctx: Context, iterations: int, warmup: int) -> dict[str, Summary]:
    url = ctx.url
    loop = asyncio.new_event_loop()
    reused = _nb.agent(url)

    def fresh() -> Any:
        return _nb.agent(url).arun(PROMPT)

    variants = {"reuse": on_loop(loop, lambda: reused.arun(PROMPT)), "new": on_loop(loop, fresh)}
    samples = interleaved(variants, iterations=iterations, warmup=warmup, label="agno-nb new agent")
    loop.close()
    return {key: summarize(values) for key, values in samples.items()}


def new_agent(ctx: Context) -> Section:
    iterations, warmup = ctx.n(200), ctx.n(20)
    section = Section(
        "5. New agent per run",
        ["framework", "reuse median ms", "new median ms", "extra ms per run", "new p90 ms"],
        f"`Agent(model=Claude(...), tools=[get_weather])` built for every run vs one agent "
        f"reused; no db; {iterations} runs each after {warmup} warm-up, interleaved.",
    )
    nb = _nb_new_agent(ctx, iterations, warmup)
    nb_extra = nb["new"]["median"] - nb["reuse"]["median"]
    section.add(
        "agno-nb",
        ms(nb["reuse"]["median"]),
        ms(nb["new"]["median"]),
        f"+{nb_extra:.2f}",
        ms(nb["new"]["p90"]),
    )
    progress("new agent: Agno")
    agno = ctx.agno_side("new-agent", url=ctx.url, iterations=iterations, warmup=warmup)
    if isinstance(agno, str):
        section.add("Agno", UNAVAILABLE, UNAVAILABLE, UNAVAILABLE, agno)
    else:
        a_extra = agno["new"]["median"] - agno["reuse"]["median"]
        section.add(
            f"Agno {agno['versions']['agno']}",
            ms(agno["reuse"]["median"]),
            ms(agno["new"]["median"]),
            f"+{a_extra:.2f}",
            ms(agno["new"]["p90"]),
        )
        section.add("agno-nb / Agno", "-", "-", ratio(nb_extra, a_extra), "-")
    section.check(
        f"agno-nb extra per run <= {NEW_AGENT_TARGET_MS} ms",
        f"{nb_extra:.2f} ms",
        nb_extra <= NEW_AGENT_TARGET_MS,
    )
    return section
