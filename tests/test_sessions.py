"""Sessions and history: the last N completed runs, per user, in the DuckDB store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest

from agno_nb import Agent, FunctionModel
from agno_nb.exceptions import SessionAccessError
from agno_nb.messages import Message
from agno_nb.models.function import AgentInfo
from agno_nb.storage import open_store
from agno_nb.storage.duckdb import DuckDBStore

ROOT = Path(__file__).resolve().parents[1]


def _echo_history() -> FunctionModel:
    """Answers with the user prompts it can see, so history is visible in the content."""

    def play(messages: list[Message], info: AgentInfo) -> str:
        return " / ".join(m.text for m in messages if m.role == "user")

    return FunctionModel(play)


def _agent(db: str | Literal[False] | None, num_history_runs: int = 3) -> Agent:
    return Agent(
        "support",
        model=_echo_history(),
        db=db,
        add_history_to_context=True,
        num_history_runs=num_history_runs,
    )


def test_history_loads_the_last_n_completed_runs_of_the_session(db_path: str) -> None:
    agent = _agent(db_path, num_history_runs=2)
    for i in range(4):
        agent.run(f"q{i}", user_id="ana", session_id="s1")
    assert agent.run("q4", user_id="ana", session_id="s1").content == "q2 / q3 / q4"
    assert agent.run("other", user_id="ana", session_id="s2").content == "other"
    without = Agent("support", model=_echo_history(), db=db_path)
    assert without.run("solo", user_id="ana", session_id="s1").content == "solo"


def test_history_survives_a_new_process_and_failed_runs_are_left_out(db_path: str) -> None:
    agent = _agent(db_path)
    agent.run("first", user_id="ana", session_id="s1")
    agent.store.close()  # type: ignore[union-attr]

    def fail(messages: list[Message], info: AgentInfo) -> str:
        raise RuntimeError("boom")

    broken = Agent("support", model=FunctionModel(fail), db=db_path)
    with pytest.raises(RuntimeError):
        broken.run("lost", user_id="ana", session_id="s1")
    code = (
        "from tests.test_sessions import _agent; "
        f"print(_agent({db_path!r}).run('second', user_id='ana', session_id='s1').content)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.stdout.strip() == "first / second"
    store = open_store(db_path)
    statuses = sorted(str(r.status) for r in store.list_runs(session_id="s1"))
    assert statuses == ["completed", "completed", "failed"]


def test_a_session_of_one_user_is_never_loaded_for_another(db_path: str) -> None:
    agent = _agent(db_path)
    agent.run("secret plan", user_id="ana", session_id="s1")
    with pytest.raises(SessionAccessError, match="session 's1' belongs to another user"):
        agent.run("what did ana say?", user_id="bob", session_id="s1")
    store = agent.store
    assert store is not None
    assert store.history("s1", "bob", 10) == []
    assert [r.user_id for r in store.list_runs(session_id="s1")] == ["ana"]


def test_default_store_is_agno_nb_duckdb_or_agno_nb_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGNO_NB_DB")
    monkeypatch.chdir(tmp_path)
    agent = Agent("support", model=_echo_history())  # the default db
    run = agent.run("hi")
    assert isinstance(agent.store, DuckDBStore)
    assert agent.store.path == str(tmp_path / "agno_nb.duckdb")
    monkeypatch.setenv("AGNO_NB_DB", str(tmp_path / "elsewhere.duckdb"))
    other = Agent("a", model=_echo_history())
    other.run("hi")
    assert other.store.path == str(tmp_path / "elsewhere.duckdb")  # type: ignore[union-attr]
    assert run.status == "completed"


def test_db_none_is_in_memory_and_db_false_is_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    memory = _agent(None)
    memory.run("one", session_id="s")
    assert memory.run("two", session_id="s").content == "one / two"
    assert memory.store.path == ":memory:"  # type: ignore[union-attr]
    stateless = _agent(False)
    stateless.run("one", session_id="s")
    assert stateless.run("two", session_id="s").content == "two"
    assert stateless.store is None
    assert list(tmp_path.iterdir()) == []


def test_use_store_hands_the_agent_another_store(tmp_path: Path) -> None:
    shared = open_store(None)
    try:
        agent = _agent(str(tmp_path / "own.duckdb"))
        agent.use_store(shared)
        agent.run("one", session_id="s")
        assert agent.run("two", session_id="s").content == "one / two"
        assert agent.store is shared and len(shared.list_runs(session_id="s")) == 2
        assert not (tmp_path / "own.duckdb").exists()
    finally:
        shared.close()


WORKER = """
import sys
from agno_nb import Agent, TestModel
agent = Agent("w", model=TestModel(custom_output_text="ok"), db=sys.argv[1],
              add_history_to_context=True)
for i in range(100):
    run = agent.run(f"run {i}", user_id=sys.argv[2], session_id=sys.argv[2])
    assert run.status == "completed", run
agent.store.close()
print("done", len(agent.store.__class__.__name__))
"""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_processes_share_one_file_without_errors_or_lost_rows(db_path: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, db_path, user],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for user in ("kernel", "dev-server")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=110)
        assert proc.returncode == 0, err
        assert out.startswith("done") and "Error" not in err
    store = DuckDBStore(db_path)
    runs = store.list_runs(limit=1000)
    assert len(runs) == 200
    assert {str(r.status) for r in runs} == {"completed"}
    assert len(store.history("kernel", "kernel", 50)) == 50
    assert {s.session_id for s in store.list_sessions()} == {"kernel", "dev-server"}
    store.close()
