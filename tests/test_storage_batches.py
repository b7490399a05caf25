"""How the store thread batches its writes: a run's first save waits for the next batch
(and is usually superseded there), run saves are grouped across span writes, the wait
grows with the cost of writing, DuckDB runs on one core except for analytics, and
``db=":memory:"`` means in memory."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from agno_nb.exceptions import SessionAccessError
from agno_nb.run import RunStatus
from agno_nb.storage import open_store
from agno_nb.storage._batching import MAX_AGE, MAX_BATCH, backlog, coalesce_wait, execute
from agno_nb.storage._worker import StoreThread
from agno_nb.storage.duckdb import DuckDBStore
from tests.test_storage_duckdb import make_run


@pytest.fixture
def thread() -> Iterator[StoreThread]:
    worker = StoreThread(":memory:", lock_timeout=5, idle_release=60, invalidate=lambda: None)
    yield worker
    worker.close()


def _recorder(ran: list[str], name: str) -> Callable[[duckdb.DuckDBPyConnection], None]:
    def job(con: duckdb.DuckDBPyConnection) -> None:
        ran.append(name)

    return job


def _wait_for(ran: list[str], name: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while name not in ran:
        assert time.monotonic() < deadline, f"{name} never ran: {ran}"
        time.sleep(0.005)


def test_a_deferred_write_goes_to_the_next_batch(thread: StoreThread) -> None:
    ran: list[str] = []
    thread.write(_recorder(ran, "start of r1"), wait=False, label="a", key="r1", defer=True)
    thread.write(_recorder(ran, "other"), wait=False, label="b", key="r2")
    _wait_for(ran, "other")
    assert ran == ["other"]  # the next batch waits at least 100 ms for company
    _wait_for(ran, "start of r1")


def test_a_deferred_write_superseded_in_the_next_batch_never_runs(thread: StoreThread) -> None:
    ran: list[str] = []
    thread.write(_recorder(ran, "running"), wait=False, label="a", key="r1", defer=True)
    thread.write(_recorder(ran, "other"), wait=False, label="b", key="r2")
    _wait_for(ran, "other")
    thread.write(_recorder(ran, "completed"), wait=False, label="c", key="r1")
    thread.flush()
    assert ran == ["other", "completed"]


def test_a_batch_somebody_waits_for_writes_deferred_jobs_at_once(thread: StoreThread) -> None:
    ran: list[str] = []
    thread.write(_recorder(ran, "running"), wait=False, label="a", key="r1", defer=True)
    thread.flush()
    assert ran == ["running"]
    thread.write(_recorder(ran, "again"), wait=True, label="b", key="r1", defer=True)
    assert ran == ["running", "again"]  # a durable write is never deferred


class _Member:
    def __init__(self, name: str, log: list[str], group: Any) -> None:
        self.name, self.log, self.group = name, log, group


class _Spans:
    independent = True

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def __call__(self, con: Any) -> None:
        self.log.append("spans")


def test_grouped_jobs_are_one_call_across_independent_jobs_but_not_across_others() -> None:
    log: list[str] = []

    def group(con: Any, members: list[_Member], careful: bool) -> None:
        log.append("+".join(m.name for m in members))

    def barrier(con: Any) -> None:
        log.append("barrier")

    a, b, c = (_Member(n, log, group) for n in "abc")
    execute(None, [a, _Spans(log), b, barrier, c], careful=False)  # type: ignore[list-item,arg-type]
    assert log == ["a+b", "spans", "barrier", "c"]


def test_the_wait_for_company_grows_with_the_cost_of_writing() -> None:
    assert coalesce_wait(0.0) == 0.1
    assert coalesce_wait(0.001) == 0.1
    assert coalesce_wait(0.02) == pytest.approx(0.4)
    assert coalesce_wait(5.0) == 1.0


def test_a_run_that_ends_within_two_batches_is_written_once(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "runs.duckdb") as store:
        store.save_run(make_run("r1", status=RunStatus.RUNNING))
        store.save_run(make_run("r1"))
        store.flush()
        run = store.get_run("r1")
        assert run is not None and run.status == "completed"
        assert store.write_errors == []


def _threads_setting(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT current_setting('threads')").fetchone()
    assert row is not None
    return int(row[0])


def test_duckdb_runs_on_one_core_except_for_parallel_jobs(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "cores.duckdb") as store:
        assert store.call(_threads_setting) == 1
        assert store.call(_threads_setting, parallel=True) == (os.cpu_count() or 1)
        assert store.call(_threads_setting) == 1


def test_analytics_queries_use_every_core(tmp_path: Path) -> None:
    from agno_nb import analytics

    frame = analytics.sql(
        "SELECT current_setting('threads') AS threads", db=str(tmp_path / "a.duckdb")
    )
    assert int(frame["threads"][0]) == (os.cpu_count() or 1)


def test_memory_means_in_memory_not_a_file_named_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(":memory:")
    try:
        store.save_run(make_run("r1"), durable=True)
        assert store.get_run("r1") is not None
    finally:
        store.close()
    assert list(tmp_path.iterdir()) == []


def test_saves_from_many_threads_all_land(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "many.duckdb") as store:

        def saver(n: int) -> None:
            for i in range(50):
                store.save_run(make_run(f"t{n}-{i}", status=RunStatus.RUNNING, session_id=f"s{n}"))
                store.save_run(make_run(f"t{n}-{i}", session_id=f"s{n}"))

        workers = [threading.Thread(target=saver, args=(n,)) for n in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        store.flush()
        assert store.write_errors == []
        runs = store.list_runs(limit=1000)
        assert len(runs) == 200 and {r.status for r in runs} == {"completed"}
        assert len(store.list_sessions(limit=100)) == 4


def test_a_store_waiting_for_company_hands_the_file_over_within_a_turn(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    with DuckDBStore(path) as holder, DuckDBStore(path) as other:
        holder.save_run(make_run("r0"), durable=True)  # the holder has the file
        holder._thread._write_seconds = 10.0  # as if writing were slow: a 1 s wait
        holder.save_run(make_run("r1"))  # write-behind: the holder now waits for company
        time.sleep(0.05)
        started = time.monotonic()
        assert other.get_run("r0") is not None
        assert time.monotonic() - started < 0.5  # not the whole second
        holder.flush()
        assert other.get_run("r1") is not None


def test_a_read_around_the_queued_writes_runs_at_once_and_their_batch_waits_on(
    thread: StoreThread,
) -> None:
    ran: list[str] = []
    thread.flush()
    thread.write(_recorder(ran, "w1"), wait=False, label="a", key="r1")
    started = time.monotonic()
    assert thread.call(lambda con: ran.append("around") or "read", transaction=False,
                       around=True) == "read"  # fmt: skip
    assert ran == ["around"] and time.monotonic() - started < 0.09  # before the 100 ms wait
    thread.call(lambda con: ran.append("read"), transaction=False)  # an ordinary read:
    assert ran == ["around", "w1", "read"]  # after the writes queued before it


def test_claiming_a_new_session_does_not_commit_the_waiting_batch(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb", idle_release=60)
    try:
        store.flush()
        ran: list[str] = []
        store._thread.write(_recorder(ran, "behind"), wait=False, label="a", key="k")
        record = store.claim_session("new-session", "ana", "support")
        assert record.user_id == "ana" and ran == []  # the claim did not end the wait
        store.flush()
        assert ran == ["behind"]
        with pytest.raises(SessionAccessError, match="belongs to another user"):
            store.claim_session("new-session", "bob", "support")
    finally:
        store.close()
    with DuckDBStore(tmp_path / "s.duckdb") as again:  # the claim is in the file
        assert again.claim_session("new-session", "ana", "support").user_id == "ana"


def test_a_job_queued_while_a_slow_batch_writes_is_committed_within_max_age(
    thread: StoreThread,
) -> None:
    committed: list[float] = []
    running = threading.Event()
    thread.flush()
    thread.write(lambda con: running.set() or time.sleep(0.4), wait=False, label="slow")
    assert running.wait(5)  # the slow batch is being written; the next one may wait 1 s
    queued = time.monotonic()
    thread.write(lambda con: committed.append(time.monotonic()), wait=False, label="b")
    deadline = time.monotonic() + 5
    while not committed:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert committed[0] - queued <= MAX_AGE  # not the slow write plus a whole wait


def test_a_full_batch_is_written_without_waiting_for_company(thread: StoreThread) -> None:
    ran: list[str] = []
    thread.flush()
    thread._write_seconds = 0.04  # as if writing were slow: an 0.8 s wait, or 0.5 s by age
    started = time.monotonic()
    for i in range(MAX_BATCH):
        thread.write(_recorder(ran, str(i)), wait=False, label="w")
    _wait_for(ran, str(MAX_BATCH - 1))
    assert time.monotonic() - started < 0.4


def test_a_caller_that_queues_faster_than_the_store_writes_waits_for_room(
    thread: StoreThread,
) -> None:
    running, release = threading.Event(), threading.Event()
    thread.write(lambda con: running.set() or release.wait(10), wait=False, label="stuck")
    assert running.wait(5)  # the store thread is busy writing
    thread._backlog = 5  # as if the thread wrote five jobs in half of MAX_AGE
    queued: list[int] = []

    def producer() -> None:
        for i in range(10):
            thread.write(lambda con: None, wait=False, label="w")
            queued.append(i)

    worker = threading.Thread(target=producer)
    worker.start()
    time.sleep(0.3)
    assert len(queued) == 5  # the sixth save waits for the store thread
    release.set()
    worker.join(5)
    assert len(queued) == 10


def test_the_backlog_is_what_the_last_batch_pace_writes_in_half_of_max_age() -> None:
    assert backlog(1000, 0.05) == 10_000
    assert backlog(10, 0.05) == 1024  # never below
    assert backlog(4096, 0.0) > 1_000_000  # an instant batch
