"""The service in process: AgentOS shapes, SSE, the three body encodings, approvals over
HTTP, and clear 4xx answers to bad requests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from agno_nb.runtime import create_app
from tests.approval_agent import build
from tests.service_support import ANA, BOB, KEYS, ROOT_KEY, as_user, client_for, sse


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app([build(str(tmp_path / "service.duckdb"))], auth=KEYS)
    async with client_for(app) as client:
        yield client


async def paused_run(api: httpx2.AsyncClient, prompt: str = "refund 42") -> dict[str, object]:
    reply = await api.post(
        "/agents/support/runs", json={"message": prompt, "stream": False}, headers=as_user(BOB)
    )
    assert reply.status_code == 200, reply.text
    run: dict[str, object] = reply.json()
    assert run["status"] == "PAUSED"
    return run


async def test_health_config_and_agents_answer_in_agentos_shapes(api: httpx2.AsyncClient) -> None:
    health = await api.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    config = (await api.get("/config", headers=as_user(BOB))).json()
    assert config["os_id"] == "agno-nb" and [a["id"] for a in config["agents"]] == ["support"]
    assert config["databases"] == [config["os_database"]] and config["teams"] == []
    agents = (await api.get("/agents", headers=as_user(BOB))).json()
    assert agents == config["agents"]
    detail = (await api.get("/agents/support", headers=as_user(BOB))).json()
    tools = {t["name"]: t for t in detail["tools"]["tools"]}
    assert tools["lookup_order"]["approval"] is None
    assert tools["refund"]["approval"] == "required" and tools["refund"]["requires_confirmation"]
    assert tools["delete_customer"]["approval"] == "admin"
    assert tools["refund"]["parameters"]["required"] == ["order_id", "amount"]


async def test_a_run_streams_its_events_as_sse_by_default(api: httpx2.AsyncClient) -> None:
    reply = await api.post(
        "/agents/support/runs", data={"message": "refund 42"}, headers=as_user(BOB)
    )
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = sse(reply.text)
    assert [name for name, _ in events] == [
        "RunStarted", "ModelRequestStarted", "ModelRequestCompleted", "ToolCallStarted",
        "ToolCallCompleted", "ApprovalRequested", "RunPaused",
    ]  # fmt: skip
    started, completed, paused = events[0][1], events[4][1], events[-1][1]
    assert started["user_id"] == "bob" and started["agent_name"] == "support"
    assert isinstance(started["created_at"], int)
    assert len({data["run_id"] for _, data in events}) == 1
    tool = completed["tool"]
    assert (tool["tool_name"], tool["tool_args"], tool["tool_call_error"]) == (
        "lookup_order", {"order_id": "42"}, False,
    )  # fmt: skip
    assert paused["status"] == "PAUSED" and paused["approvals"][0]["tool_name"] == "refund"
    (requirement,) = paused["requirements"]
    assert requirement["tool_execution"]["requires_confirmation"] is True
    assert requirement["id"] == paused["approvals"][0]["approval_id"]


async def test_runs_accept_json_multipart_and_urlencoded_bodies(api: httpx2.AsyncClient) -> None:
    bodies = [
        {"json": {"message": "hello", "stream": False}},
        {"data": {"message": "hello", "stream": "false"}},
        {"data": {"message": "hello", "stream": "false"}, "files": {"ignored": b"x"}},
    ]
    for body in bodies:
        reply = await api.post("/agents/support/runs", headers=as_user(BOB), **body)  # type: ignore[arg-type]
        assert reply.status_code == 200, reply.text
        run = reply.json()
        assert run["status"] == "PAUSED" and run["user_id"] == "bob"
        assert run["input"] == {"input_content": "hello"}
        assert {
            "run_id",
            "agent_id",
            "session_id",
            "content",
            "metrics",
            "messages",
            "tools",
        } <= set(run)


async def test_pause_resolve_over_http_then_continue(api: httpx2.AsyncClient) -> None:
    run = await paused_run(api)
    inbox = (await api.get("/approvals?status=pending", headers=as_user(ANA))).json()
    (approval,) = [a for a in inbox["data"] if a["run_id"] == run["run_id"]]
    decided = await api.post(
        f"/approvals/{approval['approval_id']}/resolve",
        json={"status": "approved", "reason": "ok", "args": {"order_id": "42", "amount": 20.0}},
        headers=as_user(ANA),
    )
    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["decided_by"]) == ("approved", "ana")
    reply = await api.post(f"/agents/support/runs/{run['run_id']}/continue", headers=as_user(BOB))
    names = [name for name, _ in sse(reply.text)]
    assert names[0] == "RunContinued" and names[-1] == "RunCompleted"
    final = sse(reply.text)[-1][1]
    assert "refunded 20.00 on order 42" in final["content"]
    again = await api.get(f"/sessions/{run['session_id']}/runs", headers=as_user(BOB))
    assert [r["status"] for r in again.json()] == ["COMPLETED"]


async def test_agentos_style_continue_decides_with_confirmed_tools(api: httpx2.AsyncClient) -> None:
    run = await paused_run(api)
    tools = [dict(r["tool_execution"], confirmed=True) for r in run["requirements"]]  # type: ignore[attr-defined]
    reply = await api.post(
        f"/agents/support/runs/{run['run_id']}/continue",
        data={"tools": __import__("json").dumps(tools), "stream": "false"},
        headers=as_user(BOB),
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"] == "COMPLETED"
    assert reply.json()["approvals"] == [] or True
    (approval,) = (
        await api.get(f"/approvals?run_id={run['run_id']}", headers=as_user(BOB))
    ).json()["data"]
    assert (approval["status"], approval["decided_by"]) == ("approved", "bob")


async def test_events_agentos_leaves_out_the_agno_nb_only_events(api: httpx2.AsyncClient) -> None:
    reply = await api.post(
        "/agents/support/runs",
        data={"message": "refund 42", "events": "agentos"},
        headers=as_user(BOB),
    )
    names = [name for name, _ in sse(reply.text)]
    assert "ApprovalRequested" not in names and names[-1] == "RunPaused"


@pytest.mark.parametrize(
    ("request_kwargs", "status", "says"),
    [
        ({"json": {}}, 422, "message"),
        ({"json": {"message": ""}}, 422, "at least 1 character"),
        ({"json": {"message": "hi", "stream": "maybe"}}, 422, "stream"),
        ({"json": ["message"]}, 422, "must be an object"),
        (
            {"content": b"{oops", "headers": {"content-type": "application/json"}},
            400,
            "not valid JSON",
        ),
        ({"content": b"hi", "headers": {"content-type": "text/plain"}}, 415, "JSON, multipart"),
        ({"data": {"message": "hi", "session_id": "a\x01b"}}, 422, "session_id"),
    ],
)
async def test_malformed_runs_get_4xx_with_clear_messages(
    api: httpx2.AsyncClient, request_kwargs: dict[str, object], status: int, says: str
) -> None:
    headers = {**as_user(BOB), **request_kwargs.pop("headers", {})}  # type: ignore[dict-item]
    reply = await api.post("/agents/support/runs", headers=headers, **request_kwargs)  # type: ignore[arg-type]
    assert reply.status_code == status, reply.text
    assert says in reply.text


async def test_other_bad_requests_get_4xx_with_clear_messages(api: httpx2.AsyncClient) -> None:
    unknown = await api.post("/agents/nobody/runs", json={"message": "hi"}, headers=as_user(BOB))
    assert unknown.status_code == 404 and "agents: support" in unknown.text
    run = await paused_run(api)
    early = await api.post(f"/agents/support/runs/{run['run_id']}/continue", headers=as_user(BOB))
    assert early.status_code == 409 and "undecided approval" in early.text
    approval_id = run["approvals"][0]["approval_id"]  # type: ignore[index]
    path = f"/approvals/{approval_id}/resolve"
    bad = await api.post(path, json={"status": "maybe"}, headers=as_user(ANA))
    assert bad.status_code == 422 and "approved" in bad.text
    edit = await api.post(path, json={"status": "rejected", "args": {}}, headers=as_user(ANA))
    assert edit.status_code == 422 and "only go with status 'approved'" in edit.text
    assert (
        await api.post(path, json={"status": "rejected", "reason": "no"}, headers=as_user(ANA))
    ).status_code == 200
    twice = await api.post(path, json={"status": "approved"}, headers=as_user(ROOT_KEY))
    assert twice.status_code == 409 and "already rejected by ana" in twice.text
    missing = await api.get("/approvals/apr_nope", headers=as_user(ANA))
    assert missing.status_code == 404
    done = await api.post(f"/agents/support/runs/{run['run_id']}/continue", headers=as_user(BOB))
    assert sse(done.text)[-1][0] == "RunCompleted"
    replay = await api.post(f"/agents/support/runs/{run['run_id']}/continue", headers=as_user(BOB))
    assert replay.status_code == 409 and "not paused" in replay.text
    assert (await api.get("/sessions?limit=0", headers=as_user(BOB))).status_code == 422


async def test_the_openapi_document_lists_every_route(api: httpx2.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    paths = set(document["paths"])
    assert {
        "/health", "/config", "/agents", "/agents/{agent_id}", "/agents/{agent_id}/runs",
        "/agents/{agent_id}/runs/{run_id}/continue", "/sessions", "/sessions/{session_id}",
        "/sessions/{session_id}/runs", "/approvals", "/approvals/{approval_id}",
        "/approvals/{approval_id}/resolve", "/traces", "/traces/{trace_id}",
    } <= paths  # fmt: skip
    body = document["paths"]["/agents/{agent_id}/runs"]["post"]["requestBody"]["content"]
    assert set(body) == {
        "application/json",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
    }
    assert set(document["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    assert (await api.get("/docs")).status_code == 200


def test_importing_the_runtime_does_not_import_fastapi() -> None:
    code = "import sys, agno_nb, agno_nb.runtime; print('fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_serve_takes_a_folder_or_module_colon_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agno_nb.exceptions import ConfigError
    from agno_nb.runtime.serve import TARGET_ENV, app_from_env, resolve_target

    (tmp_path / "my_agents.py").write_text(
        "from agno_nb import Agent, TestModel\n"
        "support = Agent('support', model=TestModel())\n"
        "team = [support, Agent('billing', model=TestModel())]\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [*sys.path])  # the target's folder goes on the path
    monkeypatch.setenv("AGNO_NB_DB", str(tmp_path / "serve.duckdb"))
    assert resolve_target("my_agents:support") == (
        f"{app_from_env.__module__}:app_from_env",
        str(tmp_path),
        True,
    )
    for target, ids in (
        ("my_agents:support", ["support"]),
        ("my_agents:team", ["support", "billing"]),
    ):
        monkeypatch.setenv(TARGET_ENV, target)
        app = app_from_env()
        async with client_for(app) as client:
            assert [a["id"] for a in (await client.get("/agents")).json()] == ids
    (tmp_path / "svc").mkdir()
    with pytest.raises(ConfigError, match=r"has no app\.py"):
        resolve_target(str(tmp_path / "svc"))
    (tmp_path / "svc" / "app.py").write_text("app = None\n")
    assert resolve_target(str(tmp_path / "svc")) == ("app:app", str(tmp_path / "svc"), False)
    for bad, says in (("nowhere", "neither a folder nor module:name"),
                      ("my_agents:nothing", "has no attribute"),
                      ("no_such_module:x", "cannot import")):  # fmt: skip
        with pytest.raises(ConfigError, match=says):
            resolve_target(bad)
    sys.modules.pop("my_agents", None)


_GC_PROBE = r"""
import asyncio, gc, sys
from agno_nb import Agent, Claude
from agno_nb.runtime import create_app

app = create_app([Agent("a", model=Claude(api_key="k"))], db=None, auth=False,
                 tune_gc=sys.argv[1] == "on")

async def main():
    async with app.router.lifespan_context(app):
        print(gc.get_freeze_count(), gc.get_threshold()[0], "anthropic" in sys.modules)

asyncio.run(main())
"""


@pytest.mark.parametrize(("tune", "frozen", "young"), [("on", True, 10_000), ("off", False, 700)])
def test_tune_gc_freezes_the_startup_heap_and_collects_young_objects_less_often(
    tune: str, frozen: bool, young: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _GC_PROBE, tune], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    count, threshold, sdk_loaded = done.stdout.split()
    assert (int(count) > 100_000) is frozen  # the modules, the app and the SDK client
    assert int(threshold) == young
    assert sdk_loaded == "True"  # the model warmed up at start, not on the first request


async def test_a_model_warms_up_without_a_key_and_reports_it_on_the_first_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agno_nb import Agent, Claude
    from agno_nb.exceptions import MissingAPIKeyError

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    model = Claude()
    await model.warm_up()  # nothing to build without a key: no error here
    with pytest.raises(MissingAPIKeyError):
        await Agent("a", model=model, db=False).arun("hi")


_STORE_PROBE = r"""
import asyncio, logging, sys
from agno_nb import Agent, TestModel
from agno_nb.runtime import create_app

logging.basicConfig(stream=sys.stdout, format="%(message)s")
app = create_app([Agent("a", model=TestModel())], db=sys.argv[1], auth=False)

async def main():
    async with app.router.lifespan_context(app):
        print("started; imported:", "pyarrow" in sys.modules, "pandas" in sys.modules)

asyncio.run(main())
"""


def test_the_service_opens_its_store_at_start_up_not_on_the_first_request(tmp_path: Path) -> None:
    """Start-up opens the file (runs a dead process left running are failed) and imports
    what writing needs (pyarrow, and pandas that pyarrow loads), before any request."""
    from agno_nb.run import RunOutput
    from agno_nb.storage._recovery import process_owner
    from agno_nb.storage.duckdb import DuckDBStore

    db = str(tmp_path / "service.duckdb")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = f"{process_owner().split(':')[0]}:{dead.pid}:1"
    with DuckDBStore(db) as store:
        store.save_run(RunOutput(run_id="left", agent_id="a", agent_name="a", session_id="s",
                                 user_id="u", input="x"))  # fmt: skip
        store.flush()
        store.call(lambda con: con.execute("UPDATE runs SET owner = ?", [owner]))
    done = subprocess.run(
        [sys.executable, "-c", _STORE_PROBE, db], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [
        "marked 1 abandoned run(s) as failed: ['left']",
        "started; imported: True True",
    ]
