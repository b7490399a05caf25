"""A pause is atomic: a process killed while it pauses a run leaves the whole pause in the
file (the run paused, and an approval row for each call it waits for) or none of it.

Each trial is a fresh process that runs an agent to a pause (two approvals) and kills
itself with SIGKILL: right after ``save_pause`` returns; as soon as the file says the run
is paused (checked after each job of the store thread: the moment between the two
transactions of a pause as agno-nb wrote it before, when 8 of 8 such trials left a paused
run without approval rows); or after a delay started when the pause began (0-30 ms:
before, during or after the writing).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agno_nb import Principal
from agno_nb.exceptions import RunStateError
from agno_nb.storage.duckdb import DuckDBStore
from tests.approval_agent import build

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import os, signal, sys, threading, time
from agno_nb.storage._worker import StoreThread
from agno_nb.storage.duckdb import DuckDBStore
from tests.approval_agent import build

db, mode, value = sys.argv[1], sys.argv[2], float(sys.argv[3])

def die():
    os.kill(os.getpid(), signal.SIGKILL)

armed = []  # the id of the run being paused, once its pause began

def probing(method):  # with mode "paused": die once the file says the run is paused
    def run(self, *args, **kwargs):
        method(self, *args, **kwargs)
        if armed and self._file.attached:
            con = self._file.db
            row = con.execute("SELECT status FROM runs WHERE run_id = ?", armed).fetchone()
            if row is not None and row[0] == "paused":
                die()
    return run

StoreThread._run_writes = probing(StoreThread._run_writes)
StoreThread._run_call = probing(StoreThread._run_call)
pause = DuckDBStore.save_pause

def save_pause(self, run, approvals):
    print(run.run_id, flush=True)
    if mode == "delay":
        threading.Timer(value, die).start()
    elif mode == "paused":
        armed.append(run.run_id)
    pause(self, run, approvals)
    die()  # right after the pause, at the latest

DuckDBStore.save_pause = save_pause
agent = build(db)
agent.store.warm_up()
agent.run("Refund order 42 and delete customer 7", user_id="ana")
"""

TRIALS = [("after", 0.0)] * 4 + [("paused", 0.0)] * 8
TRIALS += [("delay", ms / 1000) for ms in (0, 2, 4, 7, 10, 14, 20, 30)]  # a pause: 10-20 ms


def _kill_while_pausing(db: str, mode: str, value: float) -> str:
    """Run the child to its death; the id of the run it was pausing."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, db, mode, str(value)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == -9, done.stderr
    return done.stdout.strip()


def _outcome(db: str, run_id: str) -> str:
    """``whole`` (paused, with both approval rows), ``none`` (not paused, no approval
    rows) or what is broken."""
    with DuckDBStore(db) as store:
        [(status, approvals)] = store.call(
            lambda con: con.execute(
                "SELECT (SELECT status FROM runs WHERE run_id = ?), "
                "(SELECT count(*) FROM approvals WHERE run_id = ?)",
                [run_id, run_id],
            ).fetchall()
        )
        if status != "paused":
            return "none" if approvals == 0 else f"{status} run with {approvals} approvals"
        if approvals != 2:
            try:
                store.get_run(run_id)
            except RunStateError as exc:
                return f"paused with {approvals} approval rows ({exc})"
            return f"paused with {approvals} approval rows, and get_run did not say so"
        run = store.get_run(run_id)  # in another process than the one that paused it
    assert run is not None
    assert [a.tool_name for a in run.approvals] == ["refund", "delete_customer"]
    return "whole"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_process_killed_while_pausing_leaves_the_whole_pause_or_none(tmp_path: Path) -> None:
    def trial(i: int) -> tuple[str, float, str]:
        mode, value = TRIALS[i]
        db = str(tmp_path / f"pause-{i}.duckdb")
        run_id = _kill_while_pausing(db, mode, value)
        assert run_id.startswith("run_") or run_id == "", run_id
        return mode, value, "none" if not run_id else _outcome(db, run_id)

    with ThreadPoolExecutor(2) as pool:  # two at a time: each is mostly start-up
        outcomes = list(pool.map(trial, range(len(TRIALS))))
    broken = [o for o in outcomes if o[2] not in ("whole", "none")]
    assert broken == [], f"{len(broken)} of {len(outcomes)} pauses broken: {broken}"
    assert all(o[2] == "whole" for o in outcomes if o[0] != "delay")  # saved before the kill
    # a pause left by a killed process continues in another
    db = str(tmp_path / "pause-0.duckdb")
    agent = build(db)
    store = agent.store
    assert store is not None
    [paused] = store.list_runs(status="paused")
    run = store.get_run(paused.run_id)
    assert run is not None
    for approval in run.approvals:
        agent.desk.approve(approval, Principal("root", ["admin"]))
    assert agent.continue_run(run.run_id).status == "completed"  # type: ignore[union-attr]
