"""Approvals across processes: pause in one, decide in another, continue in a third;
and the races that Agno 3.1.10 loses (a confirmed tool ran twice in 6 of 10 trials)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agno_nb import Principal
from tests.approval_agent import build
from tests.approval_worker import run_worker

ROOT = Path(__file__).resolve().parents[1]
TRIALS = 12

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _env(effects: Path) -> dict[str, str]:
    return {**os.environ, "SIDE_EFFECTS": str(effects), "PYTHONPATH": str(ROOT)}


def test_pause_decide_and_continue_in_three_processes(db_path: str, tmp_path: Path) -> None:
    env = _env(tmp_path / "effects.txt")
    paused = run_worker(env, "pause", db_path, "Refund order 42 and delete customer 7", "ana")
    assert paused["status"] == "paused" and len(paused["approvals"]) == 2
    refund_id, delete_id = paused["approvals"]
    # the process that paused is gone; process 2 decides, with the wrong role first
    assert run_worker(env, "decide", db_path, delete_id, "bob", "approved") == {
        "ok": False,
        "error": "ApprovalPermissionError",
        "message": "cannot approve 'delete_customer': this call needs the 'admin' role; "
        "bob has roles: none",
    }
    assert run_worker(env, "decide", db_path, refund_id, "bob", "approved")["ok"]
    assert run_worker(env, "decide", db_path, delete_id, "root", "rejected", "admin")["ok"]
    # process 3 continues
    assert run_worker(env, "continue", db_path, paused["run_id"])["status"] == "completed"
    assert (tmp_path / "effects.txt").read_text().count("refund 42 30.0") == 1
    store = build(db_path).store
    assert store is not None
    run = store.get_run(paused["run_id"])
    assert run is not None and run.status == "completed"
    assert [t.status for t in run.tool_calls] == ["completed", "completed", "rejected"]


def _race(
    command: str, db_path: str, folder: Path, ids: list[str], env: dict[str, str]
) -> list[list[dict[str, Any]]]:
    (folder / "ids.json").write_text(json.dumps(ids))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.approval_worker",
                command,
                db_path,
                str(folder),
                str(len(ids)),
            ],
            env=env,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    results: list[list[dict[str, Any]]] = []
    try:
        for i in range(len(ids)):
            (folder / f"go_{i}").touch()
            deadline = time.monotonic() + 60
            while len(found := sorted(folder.glob(f"result_{i}_*"))) < 2:
                assert time.monotonic() < deadline, f"trial {i} did not finish"
                time.sleep(0.002)
            results.append([json.loads(p.read_text()) for p in found])
        for proc in procs:
            assert proc.wait(timeout=60) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def _paused_runs(db_path: str, n: int, *, approve: bool = False) -> list[Any]:
    agent = build(db_path)
    runs = [agent.run("Refund order 42", user_id="ana") for _ in range(n)]
    if approve:
        for run in runs:
            agent.desk.approve(run.approvals[0], by=Principal("ana"))
    assert agent.store is not None
    agent.store.close()
    return runs


def test_two_concurrent_decisions_exactly_one_wins(db_path: str, tmp_path: Path) -> None:
    env = _env(tmp_path / "effects.txt")
    runs = _paused_runs(db_path, TRIALS)
    results = _race(
        "race-decide", db_path, tmp_path, [r.approvals[0].approval_id for r in runs], env
    )
    for pair in results:
        assert sorted(r["ok"] for r in pair) == [False, True], pair
        loser = next(r for r in pair if not r["ok"])
        assert loser["error"] == "ApprovalDecidedError"
        assert "already approved by user" in loser["message"]
    store = build(db_path).store
    assert store is not None
    for run in runs:
        events = store.list_approval_events(run.approvals[0].approval_id)
        assert sorted(e["outcome"] for e in events) == ["applied", "refused"]


def test_two_concurrent_continues_exactly_one_proceeds_and_the_tool_runs_once(
    db_path: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects.txt"
    env = _env(effects)
    runs = _paused_runs(db_path, TRIALS, approve=True)
    results = _race("race-continue", db_path, tmp_path, [r.run_id for r in runs], env)
    for pair in results:
        assert sorted(r["ok"] for r in pair) == [False, True], pair
        loser = next(r for r in pair if not r["ok"])
        assert loser["error"] in ("RunLeaseError", "RunStateError"), loser
    assert effects.read_text().count("refund 42 30.0") == TRIALS
