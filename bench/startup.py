"""Sections ``import`` and ``instantiate``: what it costs to get going."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ImportCommand:
    interpreter: str
    label: str
    python: Path | str
    code: str
    env: dict[str, str]

    def wall_ms(self) -> float:
        start = time.perf_counter()
        subprocess.run([str(self.python), "-c", self.code], cwd=REPO, env=self.env, check=True)
        return (time.perf_counter() - start) * 1000


def _best_of(commands: list[ImportCommand]) -> list[float]:
    """Best of ``IMPORT_REPEATS`` per command, measured round robin after one warm-up."""
    for command in commands:
        command.wall_ms()  # writes the bytecode cache
    best = [float("inf")] * len(commands)
    for _ in range(IMPORT_REPEATS):
        for i, command in enumerate(commands):
            best[i] = min(best[i], command.wall_ms())
    return best


def _cached(env: dict[str, str], ctx: Context) -> dict[str, str]:
    """Bytecode cached for both interpreters alike, in the bench's scratch directory (so
    nothing is written into the source tree), whatever PYTHONDONTWRITEBYTECODE says."""
    env = dict(env, PYTHONPYCACHEPREFIX=ctx.path("pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _commands(ctx: Context) -> list[ImportCommand]:
    nb_env = _cached(dict(os.environ), ctx)
    commands = [
        ImportCommand("agno-nb venv", label, sys.executable, code, nb_env)
        for label, code in NB_IMPORTS.items()
    ]
    agno = ctx.agno
    if agno.python is not None:
        agno_env = _cached(agno_env_vars(), ctx)
        commands += [
            ImportCommand("Agno venv", label, agno.python, code, agno_env)
            for label, code in AGNO_IMPORTS.items()
        ]
    return commands


def import_time(ctx: Context) -> Section:
    section = Section(
        "1. Import time",
        ["interpreter", "command", "wall ms", "minus floor ms"],
        f"`python -c CODE` in a fresh process, best of {IMPORT_REPEATS} after one warm-up "
        "(commands measured round robin, bytecode cached for both); the floor is "
        "`python -c pass` of the same interpreter.",
    )
    commands = _commands(ctx)
    progress(f"import times: {IMPORT_REPEATS} rounds of fresh interpreters")
    best = dict(zip(((c.interpreter, c.code) for c in commands), _best_of(commands), strict=True))
    for c in commands:
        value = best[c.interpreter, c.code]
        floor = best[c.interpreter, "pass"]
        section.add(c.interpreter, f"`{c.label}`", ms(value, 1), ms(value - floor, 1))
    if ctx.agno.python is None:
        section.add("Agno venv", "`import agno`", UNAVAILABLE, ctx.agno.reason)
    nb_import, nb_floor = best["agno-nb venv", "import agno_nb"], best["agno-nb venv", "pass"]
    section.check(
        f"`python -c 'import agno_nb'` <= {IMPORT_TARGET_MS:.0f} ms (wall, floor included)",
        f"{nb_import:.1f} ms ({nb_import - nb_floor:.1f} ms over the floor)",
        nb_import <= IMPORT_TARGET_MS,
    )
    section.notes.append(
        "`import agno_nb` is lazy by design; the next row is what building an agent needs "
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
