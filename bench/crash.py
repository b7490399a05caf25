"""Section ``crash``: what a ``kill -9`` loses of a busy process's runs.

A child process runs an agent (``TestModel``, DuckDB file, tracing on) in a tight loop
and, after each run, writes its id and the time it finished (``time.monotonic``, one
clock for every process of the machine) to a pipe. After a few seconds the parent kills
it with SIGKILL and opens the file: a run that finished before the kill and is not in the
file was lost, and the *loss window* is how long before the kill the oldest lost run
finished. The store commits every write-behind save within ``MAX_AGE`` (1 s) of its
queueing (``agno_nb/storage/_batching.py``), so no run that finished longer ago than that
may be missing; ``tests/test_crash_loss.py`` asserts it with the same ``kill_during_runs``.

``python -m bench.crash DB`` is the child.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench._context import Context
from bench._report import Section
from bench._stats import progress

REPO = Path(__file__).resolve().parents[1]
BOUND_S = 1.0  # what docs/storage.md promises (agno_nb.storage._batching.MAX_AGE)
SECONDS = 4.0  # of runs before each kill


@dataclass(slots=True)
class Trial:
    """One child killed: its runs, those lost, and the runs lost that finished more than
    ``BOUND_S`` before the kill (there should be none)."""

    runs: int
    seconds: float
    lost: int
    window: float  # seconds from the oldest lost run's end to the kill; 0 if none lost
    late: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.runs / self.seconds if self.seconds > 0 else 0.0


def kill_during_runs(path: str, seconds: float, *, bound: float = BOUND_S) -> Trial:
    """Run the child on a new file ``path`` for ``seconds`` (after its first run), kill it
    with SIGKILL, and compare what it reported with what the file holds."""
    errors = open(f"{path}.stderr", "w+b")  # noqa: SIM115 - closed below
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.crash", path],
        stdout=subprocess.PIPE,
        stderr=errors,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    finished: list[tuple[str, float]] = []
    started = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            run_id, at = line.split()
            finished.append((run_id.decode(), float(at)))
            started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        started.wait(60)
        time.sleep(seconds)
        killed_at = time.monotonic()
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        reader.join(10)
        child.stdout.close()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
        errors.close()
    if child.returncode != -signal.SIGKILL or not finished:
        raise RuntimeError(f"the crash child stopped by itself ({child.returncode}): {stderr}")
    stored = _completed_runs(path)
    lost = [(run_id, at) for run_id, at in finished if run_id not in stored]
    return Trial(
        runs=len(finished),
        seconds=killed_at - finished[0][1],
        lost=len(lost),
        window=max((killed_at - at for _, at in lost), default=0.0),
        late=[run_id for run_id, at in lost if killed_at - at > bound],
    )


def _completed_runs(path: str) -> set[str]:
    from agno_nb.storage.duckdb import DuckDBStore

    with DuckDBStore(path) as store:
        rows = store.call(
            lambda con: con.execute("SELECT run_id FROM runs WHERE status = 'completed'").fetchall()
        )
    return {run_id for (run_id,) in rows}


def crash_loss(ctx: Context) -> Section:
    section = Section(
        "Crash: what kill -9 loses of a process in a tight loop of runs",
        ["trial", "runs", "runs/s", "lost", "loss window, s", f"lost older than {BOUND_S:g} s"],
        description=(
            "A child runs an agent (TestModel, DuckDB file, tracing on) as fast as it can, "
            "reporting each finished run on a pipe, and is killed with SIGKILL after "
            f"{SECONDS:g} s; the loss window is how long before the kill the oldest run "
            "missing from the file finished."
        ),
    )
    trials = []
    for i in range(ctx.n(5, minimum=2)):
        progress(f"crash: trial {i + 1}, {SECONDS:g} s of runs then SIGKILL")
        trial = kill_during_runs(ctx.path(f"crash-{i}.duckdb"), SECONDS)
        trials.append(trial)
        section.add(i + 1, trial.runs, f"{trial.rate:.0f}", trial.lost,
                    f"{trial.window:.3f}", len(trial.late))  # fmt: skip
    worst = max(t.window for t in trials)
    print(f"worst loss window seen: {worst:.3f} s over {len(trials)} kills", flush=True)
    section.check(
        f"no run that finished more than {BOUND_S:g} s before the kill is lost",
        f"worst loss window {worst:.3f} s",
        worst <= BOUND_S,
    )
    section.notes.append(f"worst loss window seen: {worst:.3f} s")
    return section


def _child(path: str) -> None:
    from agno_nb import Agent, TestModel
    from agno_nb.storage.duckdb import DuckDBStore

    agent = Agent("crash", model=TestModel(), db=path)
    assert isinstance(agent.store, DuckDBStore)
    agent.store.warm_up()
    out = sys.stdout.fileno()
    while True:
        run = agent.run("How is order 42?", session_id="crash")
        os.write(out, f"{run.run_id} {time.monotonic():.6f}\n".encode())


if __name__ == "__main__":
    _child(sys.argv[1])
