"""Crash semantics: a process killed mid-run loses only that run's unwritten spans, and
the next store to open the file marks the run failed (with a root span saying why)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agno_nb.run import RunOutput
from agno_nb.storage._recovery import is_dead, process_owner
from agno_nb.storage.duckdb import DuckDBStore
from agno_nb.testing import FakeAnthropic, Turn

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys
from agno_nb import Agent, Claude
from agno_nb.events import ModelRequestStarted

db, url = sys.argv[1], sys.argv[2]
model = Claude("claude-haiku-4-5", api_key="test-key", base_url=url, max_retries=0, timeout=120)
agent = Agent("crashy", model=model, db=db)
first = agent.run("first", session_id="s")
print("first", first.run_id, flush=True)
for event in agent.run("second", session_id="s", stream=True):
    if isinstance(event, ModelRequestStarted):
        print("second", event.run_id, flush=True)  # the model call now hangs: kill me
"""


def span_count(store: DuckDBStore, run_id: str) -> int:
    found = store.call(
        lambda con: con.execute("SELECT count(*) FROM spans WHERE run_id = ?", [run_id]).fetchone()
    )
    return int(found[0])


def runs_by_id(store: DuckDBStore) -> dict[str, RunOutput]:
    return {r.run_id: r for r in store.list_runs(limit=100)}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_run_killed_mid_model_call_is_marked_failed_by_the_next_store(
    fake: FakeAnthropic, db_path: str
) -> None:
    fake.reset([Turn.text("done"), Turn.text("never sent", delay=30)])
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_path, fake.url or ""],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert child.stdout is not None
    try:
        first = child.stdout.readline().split()
        second = child.stdout.readline().split()
        assert first[0] == "first" and second[0] == "second", child.stderr
        first_id, second_id = first[1], second[1]
        with DuckDBStore(db_path) as store:  # opened while the child lives: no recovery
            deadline = time.monotonic() + 20
            while second_id not in runs_by_id(store) or span_count(store, first_id) < 2:
                assert time.monotonic() < deadline  # the first run's spans are in
                time.sleep(0.02)
            assert runs_by_id(store)[second_id].status == "running"
            assert span_count(store, second_id) == 0
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)  # reaps it and closes the pipes
    with DuckDBStore(db_path) as store:
        found = runs_by_id(store)
        spans = store.call(
            lambda con: con.execute(
                "SELECT run_id, kind, status, error_type, status_message FROM spans"
            ).fetchall()
        )
    crashed = found[second_id]
    assert crashed.status == "failed" and crashed.error_type == "RunAbandonedError"
    assert crashed.error is not None and "died before it finished" in crashed.error
    assert crashed.finished_at is not None
    assert found[first_id].status == "completed"
    assert sorted((k, s) for r, k, s, *_ in spans if r == first_id) == [
        ("AGENT", "OK"), ("LLM", "OK"),
    ]  # fmt: skip
    [(_, kind, status, error_type, message)] = [s for s in spans if s[0] == second_id]
    assert (kind, status, error_type) == ("AGENT", "ERROR", "RunAbandonedError")
    assert "died" in message


def test_only_dead_local_owners_and_expired_leases_count_as_abandoned(db_path: str) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = process_owner().split(":")[0]
    assert not is_dead(process_owner())
    assert is_dead(f"{host}:{dead.pid}:1")
    assert not is_dead(f"some-other-host:{dead.pid}:1")
    now = datetime.now(UTC)
    cases = {
        "mine": (process_owner(), None, None),
        "dead": (f"{host}:{dead.pid}:1", None, None),
        "remote": ("some-other-host:1:1", None, None),
        "remote-lease-expired": ("some-other-host:1:1", "remote:2:2", now - timedelta(hours=1)),
        "remote-lease-live": ("some-other-host:1:1", "remote:2:2", now + timedelta(hours=1)),
        "resumed-by-dead": ("some-other-host:1:1", f"{host}:{dead.pid}:1", now + timedelta(1)),
    }
    with DuckDBStore(db_path) as store:
        for run_id in cases:
            store.save_run(RunOutput(run_id=run_id, agent_id="a", agent_name="a",
                                     session_id="s", user_id="u", input="x"))  # fmt: skip
        store.flush()
        for run_id, (owner, lease_owner, expires) in cases.items():
            store.call(lambda con, r=run_id, o=owner, lo=lease_owner, e=expires: con.execute(
                "UPDATE runs SET owner = ?, lease_owner = ?, lease_expires_at = ? "
                "WHERE run_id = ?", [o, lo, e, r]))  # fmt: skip
        assert sorted(store.recover_abandoned_runs()) == [
            "dead", "remote-lease-expired", "resumed-by-dead"
        ]  # fmt: skip
        assert store.recover_abandoned_runs() == []
        status = {r.run_id: r.status for r in store.list_runs()}
    assert status == {"mine": "running", "dead": "failed", "remote": "running",
                      "remote-lease-expired": "failed", "remote-lease-live": "running",
                      "resumed-by-dead": "failed"}  # fmt: skip
