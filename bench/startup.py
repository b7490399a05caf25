"""Sections ``import`` and ``instantiate``: what it costs to get going."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import _nb
from bench._context import REPO, Context, agno_env_vars
from bench._report import UNAVAILABLE, Section, ms, ratio
from bench._stats import instantiation_us, kib_per_object, progress

IMPORT_TARGET_MS = 150.0
IMPORT_REPEATS = 5
NB_IMPORTS = {
    "python -c pass (floor)": "pass",
    "import agno_nb": "import agno_nb",
    "from agno_nb import Agent, Claude": "from agno_nb import Agent, Claude",
}
AGNO_IMPORTS = {
    "python -c pass (floor)": "pass",
    "import agno": "import agno",
    "from agno.agent import Agent; Claude": (
        "from agno.agent import Agent; from agno.models.anthropic import Claude"
    ),
}


def _wall_ms(python: Path | str, code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(python), "-c", code], cwd=REPO, env=env, check=True)
    return (time.perf_counter() - start) * 1000


def _import_times(commands: list[tuple[str, Path | str, str, dict[str, str]]]) -> list[float]:
    """Best of ``IMPORT_REPEATS`` per command, measured round robin."""
    best = [float("inf")] * len(commands)
    for _ in range(IMPORT_REPEATS):
        for i, (_, python, code, env) in enumerate(commands):
            best[i] = min(best[i], _wall_ms(python, code, env))
    return best


def import_time(ctx: Context) -> Section:
    section = Section(
        "1. Import time",
        ["interpreter", "command", "wall ms", "minus floor ms"],
        f"`python -c CODE` in a fresh process, best of {IMPORT_REPEATS} (commands measured "
        "round robin); the floor is `python -c pass` of the same interpreter.",
    )
    nb_env = dict(os.environ)
    commands = [("agno-nb venv", sys.executable, code, nb_env) for code in NB_IMPORTS.values()]
    agno = ctx.agno
    if agno.python is not None:
        agno_cmds = [("Agno venv", agno.python, c, agno_env_vars()) for c in AGNO_IMPORTS.values()]
        commands += agno_cmds
    progress("import times: 5 rounds of fresh interpreters")
    best = _import_times(commands)
    labels = list(NB_IMPORTS) + (list(AGNO_IMPORTS) if agno.python is not None else [])
    floors = {"agno-nb venv": best[0], "Agno venv": best[3] if len(best) > 3 else 0.0}
    for (where, _, _, _), label, value in zip(commands, labels, best, strict=True):
        section.add(where, f"`{label}`", ms(value, 1), ms(value - floors[where], 1))
    if agno.python is None:
        section.add("Agno venv", "`import agno`", UNAVAILABLE, agno.reason)
    nb_import = best[1]
    section.check(
        f"`python -c 'import agno_nb'` <= {IMPORT_TARGET_MS:.0f} ms (wall, floor included)",
        f"{nb_import:.1f} ms ({nb_import - best[0]:.1f} ms over the floor)",
        nb_import <= IMPORT_TARGET_MS,
    )
    section.notes.append(
        "`import agno_nb` is lazy by design; the second row is what building an agent needs "
        "(anthropic itself is imported on the first run)."
    )
    return section


def instantiation(ctx: Context) -> Section:
    n, repeats = ctx.n(10_000, 100), 5
    section = Section(
        "2. Instantiation",
        ["framework", "µs per agent (median)", "µs (best batch)", "KiB per agent"],
        f"`Agent(...)` with a model object, instructions, one tool and a db: {repeats} batches "
        f"of {n:,} agents kept in a list (median and best batch); KiB per agent by tracemalloc "
        f"over {n:,} agents kept in a list. GC enabled, as in real use.",
    )
    path = ctx.path("instantiate.duckdb")

    def factory() -> Any:
        return _nb.agent("http://127.0.0.1:9", db=path)

    progress("instantiation: agno-nb")
    nb_us = instantiation_us(factory, n=n, repeats=repeats)
    nb_kib = kib_per_object(factory, n=n)
    section.add("agno-nb", ms(nb_us["median"]), ms(nb_us["best"]), ms(nb_kib))
    progress("instantiation: Agno")
    agno = ctx.agno_side("instantiate", url="http://127.0.0.1:9", n=n, repeats=repeats)
    if isinstance(agno, str):
        section.add("Agno", UNAVAILABLE, UNAVAILABLE, agno)
        section.check("agno-nb µs per agent <= Agno's", ms(nb_us["median"]), None)
        section.check("agno-nb KiB per agent <= Agno's", ms(nb_kib), None)
        return section
    a_us, a_kib = agno["us"], agno["kib"]
    section.add(f"Agno {agno['versions']['agno']}", ms(a_us["median"]), ms(a_us["best"]), ms(a_kib))
    section.add(
        "agno-nb / Agno",
        ratio(nb_us["median"], a_us["median"]),
        ratio(nb_us["best"], a_us["best"]),
        ratio(nb_kib, a_kib),
    )
    section.check(
        "agno-nb µs per agent <= Agno's",
        f"{nb_us['median']:.2f} vs {a_us['median']:.2f} µs",
        nb_us["median"] <= a_us["median"],
    )
    section.check(
        "agno-nb KiB per agent <= Agno's", f"{nb_kib:.2f} vs {a_kib:.2f} KiB", nb_kib <= a_kib
    )
    section.notes.append(
        "Agno gets one SqliteDb object shared by every agent (made once, outside the timing), "
        "agno-nb the path of a DuckDB file (opened on the first run); every agent gets a new "
        "Claude model object, as in Agno's own benchmark."
    )
    return section
