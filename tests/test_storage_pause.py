"""A pause is one job of the store (the run and its approval rows in one transaction), a
paused run is loaded with its approvals in any process, and a paused run whose approval
rows are missing is a ``RunStateError`` naming it, on load and on continue (the kill test
is ``test_crash_pause.py``)."""

from __future__ import annotations

import pytest

from agno_nb.exceptions import RunStateError
from agno_nb.run import RunStatus
from agno_nb.storage._batching import Job, Kind, latest
from agno_nb.storage.duckdb import DuckDBStore
from tests.approval_agent import build
from tests.test_storage_duckdb import make_run


def _approval_rows(store: DuckDBStore, run_id: str) -> int:
    [(found,)] = store.call(
        lambda con: con.execute("SELECT count(*) FROM approvals WHERE run_id = ?", [run_id])
        .fetchall()
    )  # fmt: skip
    return int(found)


def test_a_pause_supersedes_the_queued_saves_of_its_run_and_no_later_save_supersedes_it() -> None:
    save, pause, later = (Job(Kind.WRITE, key="run:r1") for _ in range(3))
    pause.sealed = True
    other = Job(Kind.WRITE, key="run:r2")
    assert latest([save, other, pause]) == [other, pause]
    assert latest([save, pause, later]) == [pause, later]  # the pause still runs, first


def test_a_paused_run_is_written_with_its_approvals_in_one_job(db_path: str) -> None:
    agent = build(db_path)
    store = agent.store
    assert isinstance(store, DuckDBStore)
    ran: list[str] = []
    original = store._thread.write

    def write(fn, **options):  # type: ignore[no-untyped-def]
        ran.append(options["label"])
        original(fn, **options)

    store._thread.write = write  # type: ignore[method-assign]
    run = agent.run("Refund order 42 and delete customer 7", user_id="ana")
    assert run.status == "paused"
    runs = [label.partition("(")[0] for label in ran if label != "write_spans"]
    assert runs == ["save_run", "save_pause"]  # the start, then the pause: one job
    assert _approval_rows(store, run.run_id) == 2  # committed when save_pause returned


def test_a_queued_save_of_a_run_does_not_overwrite_its_pause(db_path: str) -> None:
    with DuckDBStore(db_path) as store:
        run = make_run("r1", status=RunStatus.RUNNING)
        store.save_run(run)  # write-behind, deferred: still queued when the pause comes
        paused = make_run("r1", status=RunStatus.PAUSED)
        store.save_pause(paused, [])
        store.flush()
        loaded = store.get_run("r1")
        assert loaded is not None and loaded.status == "paused"


def test_get_run_gives_a_paused_run_its_approvals_in_another_process(db_path: str) -> None:
    agent = build(db_path)
    run = agent.run("Refund order 42 and delete customer 7", user_id="ana")
    assert agent.store is not None
    agent.store.close()
    with DuckDBStore(db_path) as store:  # a store that never saw the pause: as elsewhere
        loaded = store.get_run(run.run_id)
    assert loaded is not None and loaded.status == "paused"
    assert [(a.approval_id, a.tool_name, a.status) for a in loaded.approvals] == [
        (a.approval_id, a.tool_name, "pending") for a in run.approvals
    ]
    assert [a.tool_call_id for a in loaded.approvals] == [
        t.id for t in loaded.tool_calls if t.status == "pending"
    ]


def test_a_paused_run_without_its_approval_rows_is_a_run_state_error(db_path: str) -> None:
    agent = build(db_path)
    store = agent.store
    assert isinstance(store, DuckDBStore)
    run = agent.run("Refund order 42 and delete customer 7", user_id="ana")
    store.call(lambda con: con.execute("DELETE FROM approvals WHERE run_id = ?", [run.run_id]))
    missing = rf"run {run.run_id} is paused, but the approval rows .* are missing"
    with pytest.raises(RunStateError, match=missing):
        store.get_run(run.run_id)
    with pytest.raises(RunStateError, match=missing):  # not a KeyError from the loop
        agent.continue_run(run.run_id)
    status = store.call(
        lambda con: con.execute("SELECT status FROM runs WHERE run_id = ?", [run.run_id])
        .fetchone()
    )  # fmt: skip
    assert status == ("paused",)  # not marked failed: nothing was continued
    assert [r.run_id for r in store.list_runs(status="paused")] == [run.run_id]  # listable
