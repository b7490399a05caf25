"""DuckDBStore in one process: round trips, updates, history and its cache, migrations,
write-behind failures, ``call`` / ``submit``, and handing the file to other tools."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from agno_nb.exceptions import SessionAccessError, StoreBusyError, StoreError
from agno_nb.messages import Message, TextPart, ToolCallPart, ToolResultPart, Usage
from agno_nb.run import RunOutput, RunStatus, ToolExecution
from agno_nb.storage import Store
from agno_nb.storage.duckdb import DuckDBStore
from agno_nb.storage.schema import LATEST_VERSION, MIGRATIONS

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_run(
    run_id: str,
    *,
    session_id: str = "s1",
    user_id: str = "ana",
    status: RunStatus = RunStatus.COMPLETED,
    minute: int = 0,
) -> RunOutput:
    created = T0 + timedelta(minutes=minute)
    return RunOutput(
        run_id=run_id,
        agent_id="support",
        agent_name="Support",
        session_id=session_id,
        user_id=user_id,
        input=f"question {run_id}",
        status=status,
        content=f"answer {run_id}" if status == RunStatus.COMPLETED else None,
        messages=[Message.user(f"question {run_id}")],
        created_at=created,
        updated_at=created,
        finished_at=created + timedelta(seconds=2) if status == RunStatus.COMPLETED else None,
    )


@pytest.fixture
def store(db_path: str) -> Iterator[DuckDBStore]:
    with DuckDBStore(db_path) as opened:
        yield opened


def count_runs(path: str) -> int:
    con = duckdb.connect(path)
    try:
        row = con.execute("SELECT count(*) FROM runs").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def test_a_run_round_trips_with_messages_tool_calls_and_usage(store: DuckDBStore) -> None:
    assert isinstance(store, Store)
    run = make_run("r1")
    run.messages += [
        Message("assistant", [TextPart("Let me look."), ToolCallPart("t1", "lookup", {"id": 42})]),
        Message("user", [ToolResultPart("t1", "lookup", {"status": "shipped"})]),
        Message("assistant", [TextPart("It shipped.")]),
    ]
    run.tool_calls = [
        ToolExecution(
            id="t1",
            name="lookup",
            args={"id": 42},
            status="completed",
            result={"status": "shipped"},
            started_at=T0,
            duration_ms=1.5,
        )
    ]
    run.usage = Usage(input_tokens=10, output_tokens=5, cache_read_tokens=3,
                      cache_write_tokens=2, requests=2)  # fmt: skip
    run.model, run.stop_reason, run.trace_id = "claude-x", "end_turn", "trace-1"
    store.save_run(run, durable=True)
    loaded = store.get_run("r1")
    assert loaded is not None
    assert loaded.to_dict() == run.to_dict()
    assert store.get_run("nope") is None


def test_odd_values_in_tool_results_are_stored_as_strings(store: DuckDBStore) -> None:
    run = make_run("r1")
    run.tool_calls = [ToolExecution(id="t1", name="now", args={}, result={"at": T0})]
    store.save_run(run, durable=True)
    loaded = store.get_run("r1")
    assert loaded is not None
    assert loaded.tool_calls[0].result == {"at": str(T0)}


def test_a_run_is_inserted_running_then_updated_to_paused_then_completed(
    store: DuckDBStore,
) -> None:
    run = make_run("r1", status=RunStatus.RUNNING)
    for status in (RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.COMPLETED):
        run.status = status
        store.save_run(run, durable=True)
        loaded = store.get_run("r1")
        assert loaded is not None
        assert loaded.status == status

    # Insert and update one row many times in one transaction, indexed columns included.
    def cycle(con: duckdb.DuckDBPyConnection) -> list[Any]:
        con.execute(
            "INSERT INTO runs (run_id, session_id, user_id, status, created_at, updated_at) "
            "VALUES ('r2', 's1', 'ana', 'running', now(), now())"
        )
        for status in ("paused", "running", "completed"):
            for run_id in ("r1", "r2"):
                con.execute("UPDATE runs SET status = ? WHERE run_id = ?", [status, run_id])
        for session_id in ("s2", "s1"):
            con.execute("UPDATE runs SET session_id = ? WHERE run_id = 'r2'", [session_id])
        return con.execute("SELECT run_id, session_id, status FROM runs ORDER BY 1").fetchall()

    assert store.call(cycle) == [("r1", "s1", "completed"), ("r2", "s1", "completed")]
    # And as write-behind saves queued together, then committed.
    runs = [make_run(f"w{i}", status=RunStatus.RUNNING) for i in range(5)]
    for status in (RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.COMPLETED):
        for queued in runs:
            queued.status = status
            store.save_run(queued)
    store.flush()
    assert {r.status for r in store.list_runs()} == {RunStatus.COMPLETED}
    assert len(store.list_runs()) == 7
    assert store.write_errors == []


def test_history_is_oldest_first_completed_only_limited_and_per_user(
    store: DuckDBStore,
) -> None:
    store.claim_session("s1", "ana", "support")
    for minute in (3, 1, 2, 5):
        store.save_run(make_run(f"r{minute}", minute=minute))
    store.save_run(make_run("r4", minute=4, status=RunStatus.FAILED))
    store.save_run(make_run("other", session_id="s2", minute=6))
    assert [r.run_id for r in store.history("s1", "ana", 10)] == ["r1", "r2", "r3", "r5"]
    assert [r.run_id for r in store.history("s1", "ana", 2)] == ["r3", "r5"]
    assert store.history("s1", "ana", 0) == []
    assert store.history("s1", "bob", 10) == []
    with pytest.raises(SessionAccessError, match="another user"):
        store.claim_session("s1", "bob", "support")
    assert store.claim_session("s1", "ana", "support").user_id == "ana"
    session = store.get_session("s1")
    assert session is not None
    assert session.user_id == "ana"
    # s1 was claimed now; s2 was created by the save of a run from January.
    assert [s.session_id for s in store.list_sessions(user_id="ana")] == ["s1", "s2"]
    assert [r.run_id for r in store.list_runs(session_id="s1", limit=2)] == ["r5", "r4"]
    assert [r.run_id for r in store.list_runs(status="failed")] == ["r4"]


def test_history_beyond_the_cached_runs_queries_the_database(store: DuckDBStore) -> None:
    store.claim_session("s1", "ana", "support")
    for minute in range(60):
        store.save_run(make_run(f"r{minute:02}", minute=minute))
    assert [r.run_id for r in store.history("s1", "ana", 55)][:2] == ["r05", "r06"]
    assert len(store.history("s1", "ana", 50)) == 50
    assert store.history("s1", "ana", 50)[0].run_id == "r10"


def test_a_history_read_queued_before_a_save_does_not_hide_it(store: DuckDBStore) -> None:
    store.save_run(make_run("r1"), durable=True)
    started, release = threading.Event(), threading.Event()

    def block(con: duckdb.DuckDBPyConnection) -> None:
        started.set()
        release.wait(10)

    store.submit(block)
    assert started.wait(10)
    read: list[list[RunOutput]] = []
    reader = threading.Thread(target=lambda: read.append(store.history("s1", "ana", 10)))
    reader.start()
    while store._thread._queue.qsize() == 0:  # the history query is queued
        threading.Event().wait(0.001)
    store.save_run(make_run("r2", minute=1))  # queued after it
    release.set()
    reader.join(10)
    assert [r.run_id for r in read[0]] == ["r1", "r2"]
    assert [r.run_id for r in store.history("s1", "ana", 10)] == ["r1", "r2"]


def test_the_cache_follows_writes_of_another_store_across_a_reopen(db_path: str) -> None:
    with DuckDBStore(db_path) as first, DuckDBStore(db_path) as second:
        first.claim_session("s1", "ana", "support")
        first.save_run(make_run("r1", minute=1))
        assert [r.run_id for r in first.history("s1", "ana", 10)] == ["r1"]
        generation = first.generation
        # `second` waits for the file: `first` lets it go, then reopens for its next job.
        second.save_run(make_run("r2", minute=2), durable=True)
        assert [r.run_id for r in first.history("s1", "ana", 10)] == ["r1", "r2"]
        assert first.generation > generation
        assert first.claim_session("s1", "ana", "support").user_id == "ana"


def test_a_new_file_is_migrated_once(db_path: str) -> None:
    with DuckDBStore(db_path) as store:
        store.save_run(make_run("r1"), durable=True)
    with DuckDBStore(db_path) as store:
        assert store.get_run("r1") is not None
        versions = store.call(
            lambda con: con.execute("SELECT version FROM schema_version").fetchall()
        )
    assert versions == [(m.version,) for m in MIGRATIONS]
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))


def test_a_file_from_a_newer_agno_nb_is_refused(db_path: str) -> None:
    with DuckDBStore(db_path) as store:
        store.flush()
        store.get_run("r1")
    con = duckdb.connect(db_path)
    con.execute("INSERT INTO schema_version VALUES (?, now())", [LATEST_VERSION + 1])
    con.close()
    with DuckDBStore(db_path) as store, pytest.raises(StoreError, match="newer agno-nb"):
        store.get_run("r1")


def test_a_failing_write_behind_job_loses_only_itself(
    store: DuckDBStore, caplog: pytest.LogCaptureFixture
) -> None:
    started, release = threading.Event(), threading.Event()

    def block(con: duckdb.DuckDBPyConnection) -> None:
        started.set()
        release.wait(10)

    def fail(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT INTO sessions (session_id) VALUES ('broken')")  # NOT NULL fails

    store.submit(block)
    assert started.wait(10)
    store.save_run(make_run("r1"))
    store.submit(fail)
    store.save_run(make_run("r2", minute=1))
    with caplog.at_level(logging.ERROR, logger="agno_nb.storage"):
        release.set()
        store.flush()
    assert [r.run_id for r in store.list_runs()] == ["r2", "r1"]
    assert [r.run_id for r in store.history("s1", "ana", 10)] == ["r1", "r2"]
    assert len(store.write_errors) == 1
    assert isinstance(store.write_errors[0], duckdb.ConstraintException)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(m.startswith("write-behind job") and ".fail on " in m for m in messages)


def test_call_returns_results_and_rolls_back_on_error(store: DuckDBStore) -> None:
    def insert_then_fail(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT INTO sessions VALUES ('s9', 'ana', 'a', now(), now(), '{}')")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        store.call(insert_then_fail)
    assert store.get_session("s9") is None
    assert store.call(lambda con: con.execute("SELECT 41 + 1").fetchall()) == [(42,)]
    with pytest.raises(StoreError, match="same store"):
        store.call(lambda con: store.call(lambda inner: None))


def test_the_file_is_open_to_other_tools_when_idle_or_closed(db_path: str) -> None:
    store = DuckDBStore(db_path, idle_release=0.05)
    store.save_run(make_run("r1"), durable=True)
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while True:  # released after 50 ms without jobs
        try:
            assert count_runs(db_path) == 1
            break
        except duckdb.Error:
            assert datetime.now(UTC) < deadline
    store.save_run(make_run("r2", minute=1))
    store.close()
    assert count_runs(db_path) == 2
    with pytest.raises(StoreError, match="closed"):
        store.get_run("r1")


def test_a_file_held_by_another_tool_raises_store_busy(db_path: str) -> None:
    other = duckdb.connect(db_path)
    try:
        with DuckDBStore(db_path, lock_timeout=0.1) as store:
            with pytest.raises(StoreBusyError, match="another process"):
                store.get_run("r1")
            store.save_run(make_run("r1"))
            store.flush()
            assert isinstance(store.write_errors[0], StoreBusyError)
    finally:
        other.close()


def test_an_in_memory_store_works_without_files(tmp_path: Path) -> None:
    with DuckDBStore(":memory:") as store:
        store.claim_session("s1", "ana", "support")
        store.save_run(make_run("r1"))
        assert [r.run_id for r in store.history("s1", "ana", 5)] == ["r1"]
        assert store.generation == 1
    assert list(tmp_path.iterdir()) == []


def test_a_forgotten_store_is_flushed_and_closed_when_collected(db_path: str) -> None:
    store = DuckDBStore(db_path)
    store.save_run(make_run("r1"))
    thread = store._thread._thread
    del store
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()
    assert count_runs(db_path) == 1


def _held(store: DuckDBStore) -> threading.Event:
    """Block the store thread until the returned event is set (so saves queue up)."""
    started, release = threading.Event(), threading.Event()
    store.submit(lambda con: (started.set(), release.wait(10)))
    assert started.wait(10)
    return release


def _sessions(store: DuckDBStore) -> list[str]:
    rows = store.call(
        lambda con: con.execute(
            "SELECT session_id, updated_at FROM sessions ORDER BY session_id"
        ).fetchall()
    )
    return [f"{sid} {updated:%H:%M}" for sid, updated in rows]


def test_the_saves_of_a_batch_land_together_with_their_sessions(store: DuckDBStore) -> None:
    for i in range(3):  # in the file already: UPDATEd (all three in one statement)
        store.save_run(make_run(f"old{i}", status=RunStatus.RUNNING), durable=True)
    release = _held(store)
    for i in range(1, 9):  # new: one INSERT
        store.save_run(make_run(f"r{i}", minute=i, session_id=f"s{1 + i % 2}"))
    for i in range(3):
        update = make_run(f"old{i}", minute=30 + i)
        update.content = f"answer old{i}, edited"
        store.save_run(update)
    release.set()
    store.flush()
    assert store.write_errors == []
    assert count_runs_in(store) == 11
    for i in range(3):
        stored = store.get_run(f"old{i}")
        assert stored is not None and stored.status == "completed"
        assert stored.content == f"answer old{i}, edited"
    # s1 was there (touched up to its latest run), s2 is created by the batch
    assert _sessions(store) == ["s1 00:32", "s2 00:07"]


def test_a_run_another_store_wrote_is_updated_not_duplicated(db_path: str) -> None:
    with DuckDBStore(db_path) as first, DuckDBStore(db_path) as second:
        first.save_run(make_run("shared", status=RunStatus.RUNNING), durable=True)
        # `second` never read "shared": it takes it for new, its INSERT fails, and the
        # batch is redone carefully (looked up first), losing nothing else
        release = _held(second)
        second.save_run(make_run("shared"))
        second.save_run(make_run("other", minute=1))
        release.set()
        second.flush()
        assert second.write_errors == []
        assert second.get_run("shared").status == "completed"  # type: ignore[union-attr]
        assert {r.run_id for r in second.list_runs()} == {"shared", "other"}


def test_a_run_whose_insert_was_rolled_back_is_inserted_by_its_next_save(
    store: DuckDBStore,
) -> None:
    def fail(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT INTO sessions (session_id) VALUES ('broken')")  # NOT NULL fails

    release = _held(store)
    store.save_run(make_run("r1", status=RunStatus.RUNNING))
    store.submit(fail)
    release.set()
    store.flush()
    assert len(store.write_errors) == 1  # the failed job only
    store.save_run(make_run("r1"), durable=True)
    assert store.get_run("r1").status == "completed"  # type: ignore[union-attr]
    assert count_runs_in(store) == 1


def count_runs_in(store: DuckDBStore) -> int:
    row = store.call(lambda con: con.execute("SELECT count(*) FROM runs").fetchone())
    return int(row[0]) if row else 0
