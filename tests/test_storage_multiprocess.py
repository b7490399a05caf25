"""Several processes sharing one DuckDB file through DuckDBStore's handoff protocol.

Each child is ``python -c CHILD`` and reports one JSON line on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from agno_nb.storage.duckdb import DuckDBStore

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
from agno_nb.messages import Message
from agno_nb.run import RunOutput, RunStatus
from agno_nb.storage.duckdb import DuckDBStore

path, role, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = DuckDBStore(path, lock_timeout=30, idle_release=60)
report = {"name": name, "errors": []}
started = time.perf_counter()
try:
    if role == "runs":  # count runs, each as the agent does one
        for i in range(count):
            session_id = f"{name}-s{i % 5}"
            store.claim_session(session_id, name, "agent")
            history = store.history(session_id, name, 10)
            assert all(r.status == "completed" for r in history)
            run = RunOutput(run_id=f"{name}-{i}", agent_id="agent", agent_name="Agent",
                            session_id=session_id, user_id=name, input=f"q{i}",
                            messages=[Message.user(f"q{i}")])
            store.save_run(run)
            run.status, run.content = RunStatus.COMPLETED, f"a{i}"
            store.save_run(run)
        store.flush()
    elif role == "reader":  # count listings of the writer's runs
        seen = []
        for _ in range(count):
            runs = store.list_runs(user_id="writer", limit=10_000)
            assert all(r.status in ("running", "completed") for r in runs)
            assert len({r.run_id for r in runs}) == len(runs)
            seen.append(len(runs))
            time.sleep(0.01)
        assert seen == sorted(seen), seen
        report["seen"] = seen
    elif role == "holder":  # take the file, then sit idle on it until stdin closes
        store.save_run(RunOutput(run_id="held", agent_id="agent", agent_name="Agent",
                                 session_id="h", user_id=name, input="x"), durable=True)
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.read()
    elif role == "exit":  # queue saves and exit without flush or close
        for i in range(count):
            store.save_run(RunOutput(run_id=f"{name}-{i}", agent_id="agent", agent_name="Agent",
                                     session_id="e", user_id=name, input="x"))
        sys.exit(0)
except Exception as exc:
    report["errors"].append(repr(exc))
report["seconds"] = time.perf_counter() - started
store.close()
report["write_errors"] = [repr(e) for e in store.write_errors]
print(json.dumps(report), flush=True)
"""


def spawn(path: str, role: str, name: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, path, role, name, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def result(child: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = child.communicate(timeout=100)
    assert child.returncode == 0, err
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    assert report["errors"] == [], report
    assert report["write_errors"] == [], report
    return report


def query(path: str, sql: str) -> list[Any]:
    con = duckdb.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_processes_doing_runs_lose_nothing(db_path: str) -> None:
    children = [spawn(db_path, "runs", name, 100) for name in ("ana", "bob")]
    for child in children:
        result(child)
    assert query(db_path, "SELECT status, count(*) FROM runs GROUP BY status") == [
        ("completed", 200)
    ]
    assert query(db_path, "SELECT user_id, count(*) FROM sessions GROUP BY 1 ORDER BY 1") == [
        ("ana", 5),
        ("bob", 5),
    ]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_reader_gets_consistent_answers_while_a_writer_works(db_path: str) -> None:
    writer = spawn(db_path, "runs", "writer", 300)
    reader = spawn(db_path, "reader", "reader", 30)
    seen = result(reader)["seen"]
    result(writer)
    assert len(seen) == 30
    assert query(db_path, "SELECT count(*) FROM runs WHERE status = 'completed'") == [(300,)]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_an_idle_holder_hands_the_file_over(db_path: str) -> None:
    holder = spawn(db_path, "holder", "holder", 0)
    assert holder.stdout is not None
    assert json.loads(holder.stdout.readline()) == {"ready": True}
    with pytest.raises(duckdb.IOException, match="lock"):
        duckdb.connect(db_path)  # the holder has it open
    with DuckDBStore(db_path, lock_timeout=10) as store:
        started = time.perf_counter()
        held = store.get_run("held")
        waited = time.perf_counter() - started
    assert held is not None
    assert held.user_id == "holder"
    assert waited < 10
    result(holder)  # closes its stdin: the holder ends


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_queued_saves_are_committed_at_interpreter_exit(db_path: str) -> None:
    child = spawn(db_path, "exit", "quitter", 50)
    out, err = child.communicate(timeout=100)
    assert child.returncode == 0, err
    assert out == ""
    assert query(db_path, "SELECT count(*) FROM runs") == [(50,)]
