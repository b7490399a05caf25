"""End to end: export the quickstart, serve it with real uvicorn, run over HTTP with SSE
against FakeAnthropic, pause, approve, restart the server, continue; plus the start-up
refusals and Agno's own clients against the service."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from agno_nb.export import export_notebook
from agno_nb.testing import FakeAnthropic
from tests.service_support import (
    ANA,
    BOB,
    KEYS,
    KEYS_ENV,
    ROOT,
    ServiceProcess,
    as_user,
    free_port,
    service_env,
    sse,
    support_story,
)

pytestmark = pytest.mark.slow

NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"
if not NOTEBOOK.exists():  # pragma: no cover - before the quickstart existed
    NOTEBOOK = ROOT / "tests" / "notebooks" / "support.ipynb"
MODEL_KEY = "sk-ant-e2e-model-key-0123456789"
AGNO_PYTHON = ROOT / "bench" / ".venv-agno" / "bin" / "python"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "support"
    export_notebook(NOTEBOOK, "support", out)  # checked in fresh processes, as the CLI does
    return out


@pytest.fixture
def story(fake: FakeAnthropic) -> FakeAnthropic:
    fake.reset(handler=support_story)
    return fake


@pytest.fixture
def service(exported: Path, story: FakeAnthropic, tmp_path: Path) -> Iterator[ServiceProcess]:
    env = service_env(
        ANTHROPIC_BASE_URL=story.url or "", ANTHROPIC_API_KEY=MODEL_KEY,
        AGNO_NB_API_KEYS=KEYS_ENV, AGNO_NB_DB=str(tmp_path / "service.duckdb"),
    )  # fmt: skip
    with ServiceProcess(exported, env, tmp_path / "service.log") as process:
        yield process


def post_sse(url: str, bearer: str, **data: str) -> list[tuple[str, dict[str, object]]]:
    with httpx2.stream("POST", url, data=data, headers=as_user(bearer), timeout=30) as reply:
        assert reply.status_code == 200, reply.read()
        assert reply.headers["content-type"].startswith("text/event-stream")
        return sse(reply.read().decode())


def test_pause_restart_approve_continue_over_http(service: ServiceProcess, tmp_path: Path) -> None:
    events = post_sse(
        f"{service.url}/agents/support/runs", BOB, message="Order 42 arrived broken, refund it"
    )
    names = [name for name, _ in events]
    assert names[0] == "RunStarted" and names[-2:] == ["ApprovalRequested", "RunPaused"]
    assert "ToolCallCompleted" in names  # lookup_order ran by itself
    paused = events[-1][1]
    run_id, approval = paused["run_id"], paused["approvals"][0]  # type: ignore[index]
    assert approval["tool_name"] == "refund" and approval["requested_by"] == "bob"

    inbox = httpx2.get(f"{service.url}/approvals?status=pending", headers=as_user(ANA)).json()
    assert [a["approval_id"] for a in inbox["data"]] == [approval["approval_id"]]
    decided = httpx2.post(
        f"{service.url}/approvals/{approval['approval_id']}/resolve",
        json={"status": "approved", "reason": "broken on arrival"}, headers=as_user(ANA),
    )  # fmt: skip
    assert decided.status_code == 200 and decided.json()["decided_by"] == "ana"

    service.stop()  # nothing waits in memory: a new process takes the run up
    service.start()
    events = post_sse(f"{service.url}/agents/support/runs/{run_id}/continue", BOB)
    assert events[0][0] == "RunContinued" and events[-1][0] == "RunCompleted"
    assert events[-1][1]["content"] == "Done: refunded 30.00 on order 42."

    traces = httpx2.get(f"{service.url}/traces?run_id={run_id}", headers=as_user(BOB)).json()
    (summary,) = traces["data"]
    assert summary["status"] == "OK" and summary["user_id"] == "bob"
    detail = httpx2.get(f"{service.url}/traces/{summary['trace_id']}", headers=as_user(BOB)).json()
    (root,) = detail["tree"]
    assert root["type"] == "AGENT" and {s["type"] for s in root["spans"]} == {
        "LLM",
        "TOOL",
        "CHAIN",
    }
    service.stop()

    from agno_nb import analytics

    frame = analytics.traces(db=str(tmp_path / "service.duckdb"))
    (row,) = frame[frame.run_id == run_id].itertuples()
    assert row.trace_id == summary["trace_id"] and row.spans == summary["total_spans"]
    assert row.approvals == 1 and row.status == "completed"

    log = (tmp_path / "service.log").read_text()
    assert "POST /agents/support/runs" in log  # the access log is there ...
    for secret in (*KEYS, MODEL_KEY):  # ... and no secret is
        assert secret not in log
    assert MODEL_KEY.encode() not in (tmp_path / "service.duckdb").read_bytes()


def test_a_client_that_leaves_cancels_its_run(
    service: ServiceProcess, story: FakeAnthropic
) -> None:
    from agno_nb.testing import Turn

    story.reset(handler=lambda request: Turn.text("too late", delay=3.0))
    url = f"{service.url}/agents/support/runs"
    with httpx2.stream("POST", url, data={"message": "hi"}, headers=as_user(BOB)) as reply:
        first = next(reply.iter_lines())  # the run has started; leave mid-answer
    assert first == "event: RunStarted"
    import time

    for _ in range(100):
        sessions = httpx2.get(f"{service.url}/sessions", headers=as_user(BOB)).json()["data"]
        runs = httpx2.get(
            f"{service.url}/sessions/{sessions[0]['session_id']}/runs", headers=as_user(BOB)
        ).json() if sessions else []  # fmt: skip
        if runs and runs[0]["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert runs[0]["status"] == "CANCELLED"


def test_a_second_service_on_one_duckdb_file_fails_at_start_up(
    service: ServiceProcess, exported: Path, tmp_path: Path
) -> None:
    second = ServiceProcess(exported, service.env, tmp_path / "second.log")
    with pytest.raises(RuntimeError, match="the service exited"):
        second.start()
    log = (tmp_path / "second.log").read_text()
    assert "already served by another agno-nb service process" in log and "Postgres" in log
    command = [sys.executable, "-m", "uvicorn", "app:app", "--workers", "2",
               "--port", str(free_port())]  # fmt: skip
    env = {**service.env, "AGNO_NB_DB": str(tmp_path / "workers.duckdb")}
    done = subprocess.run(
        command, cwd=exported, env=env, capture_output=True, text=True, timeout=60
    )
    assert "use Postgres" in done.stdout + done.stderr


def test_serve_refuses_a_public_interface_without_auth(exported: Path, tmp_path: Path) -> None:
    env = service_env(AGNO_NB_DB=str(tmp_path / "open.duckdb"))
    port = str(free_port())
    command = [sys.executable, "-m", "agno_nb.cli", "serve", str(exported), "--host", "0.0.0.0",
               "--port", port]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "refusing to serve on 0.0.0.0 without auth" in done.stdout + done.stderr
    insecure = subprocess.Popen(
        [*command, "--insecure"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        for _ in range(200):
            try:
                if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                import time

                time.sleep(0.05)
        else:
            raise AssertionError("agno-nb serve --insecure did not start")
    finally:
        insecure.terminate()
        insecure.wait(timeout=15)
        assert insecure.stdout is not None
        insecure.stdout.close()


AGNO_SCRIPT = r"""
import asyncio, json, sys
from agno.agent import RemoteAgent
from agno.client import AgentOSClient

url, bob, ana = sys.argv[1:4]
async def main():
    client = AgentOSClient(url)
    config = await client.aget_config(headers={"Authorization": f"Bearer {bob}"})
    agent = RemoteAgent(base_url=url, agent_id="support")
    events = [e async for e in agent.arun("Order 42 arrived broken, refund it", stream=True,
                                          user_id="bob", auth_token=bob, events="agentos")]
    paused = events[-1]
    for requirement in paused.active_requirements:
        requirement.confirm()
    done = await agent.acontinue_run(run_id=paused.run_id, requirements=paused.requirements,
                                     auth_token=bob)
    sessions = await client.get_sessions(headers={"Authorization": f"Bearer {bob}"})
    traces = await client.get_traces(headers={"Authorization": f"Bearer {bob}"})
    print(json.dumps({"agents": [a.id for a in config.agents],
                      "events": [type(e).__name__ for e in events],
                      "status": str(done.status.value), "content": done.content,
                      "sessions": len(sessions.data), "traces": len(traces.data)}))
asyncio.run(main())
"""


@pytest.mark.skipif(not AGNO_PYTHON.exists(), reason="Agno's venv (bench/.venv-agno) is absent")
def test_agnos_own_clients_work_unchanged(service: ServiceProcess) -> None:
    probe = subprocess.run([str(AGNO_PYTHON), "-c", "import agno.client"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("Agno's venv lacks fastapi (needed by agno.client): python -m bench service")
    bob, ana = (key for key, who in KEYS.items() if who.split(":")[0] in ("bob", "ana"))
    done = subprocess.run(
        [str(AGNO_PYTHON), "-c", AGNO_SCRIPT, service.url, bob, ana],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Unknown event type" not in done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["agents"] == ["support"]
    assert result["events"][0] == "RunStartedEvent" and result["events"][-1] == "RunPausedEvent"
    assert (result["status"], result["content"]) == (
        "COMPLETED",
        "Done: refunded 30.00 on order 42.",
    )
    assert result["sessions"] == 1 and result["traces"] == 1
