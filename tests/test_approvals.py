"""Approvals as code: policies, pause, decisions, roles, resume, and bypass attempts."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agno_nb import Agent, Approval, FunctionModel, Principal, tool
from agno_nb.approvals import ToolCall, classify, local_principal, set_local_principal
from agno_nb.events import ApprovalRequested, RunPaused
from agno_nb.exceptions import (
    ApprovalDecidedError,
    ApprovalNotFoundError,
    ApprovalPermissionError,
    ConfigError,
    RunNotFoundError,
    RunStateError,
)
from agno_nb.messages import Message, ToolCallPart, ToolResultPart
from agno_nb.models.function import AgentInfo
from agno_nb.storage.duckdb import DuckDBStore
from tests.approval_agent import build, refund

ana = Principal("ana")
bob = Principal("bob")
root = Principal("root", roles={"admin"})


def tiered(call: ToolCall) -> str | None:
    amount = call.args["amount"]
    return "admin" if amount > 500 else ("required" if amount > 50 else None)


@pytest.mark.parametrize(
    ("policy", "args", "expected"),
    [
        (None, {"amount": 1}, None),
        ("auto", {"amount": 1}, None),
        ("required", {"amount": 1}, Approval("required")),
        ("admin", {"amount": 1}, Approval("admin")),
        (Approval("finance", timedelta(hours=1)), {}, Approval("finance", timedelta(hours=1))),
        (tiered, {"amount": 10}, None),
        (tiered, {"amount": 100}, Approval("required")),
        (tiered, {"amount": 1000}, Approval("admin")),
    ],
)
def test_policies_classify_each_call(
    policy: Any, args: dict[str, Any], expected: Approval | None
) -> None:
    assert classify(ToolCall("c", "refund", args), policy, {}).rule == expected


def test_agent_overrides_by_name_then_glob() -> None:
    overrides = {"delete_*": "admin", "delete_draft": None, "refund": tiered}
    assert classify(ToolCall("c", "delete_customer", {}), None, overrides).rule == Approval("admin")
    assert classify(ToolCall("c", "delete_draft", {}), "required", overrides).rule is None
    assert classify(ToolCall("c", "refund", {"amount": 600}), None, overrides).rule == Approval(
        "admin"
    )
    assert classify(ToolCall("c", "lookup", {}), "required", overrides).rule == Approval("required")
    with pytest.raises(TypeError, match="an approval policy is None"):
        classify(ToolCall("c", "x", {}), 42, {})  # type: ignore[arg-type]


def test_pause_runs_auto_calls_persists_and_emits_events(db_path: str) -> None:
    agent = build(db_path)
    events = list(
        agent.run(
            "Refund order 42 and delete customer 7", user_id="ana", session_id="s1", stream=True
        )
    )
    names = [type(e).__name__ for e in events]
    assert names[-3:] == ["ApprovalRequested", "ApprovalRequested", "RunPaused"]
    run = events[-1].run  # type: ignore[union-attr]
    assert run.status == "paused"
    assert [(t.name, t.status) for t in run.tool_calls] == [
        ("lookup_order", "completed"),
        ("refund", "pending"),
        ("delete_customer", "pending"),
    ]
    assert [(a.tool_name, a.required_role, a.requested_by) for a in run.approvals] == [
        ("refund", "required", "ana"),
        ("delete_customer", "admin", "ana"),
    ]
    assert isinstance(events[-1], RunPaused) and isinstance(events[-2], ApprovalRequested)
    # nothing waits in memory: a fresh store object on the same file sees all of it
    agent.store.close()  # type: ignore[union-attr]
    with DuckDBStore(db_path) as store:
        stored = store.get_run(run.run_id)
        assert stored is not None and stored.status == "paused"
        assert [a.status for a in store.list_approvals(run_id=run.run_id)] == ["pending"] * 2


def test_a_paused_run_is_continued_by_a_fresh_agent_and_store(db_path: str) -> None:
    first = build(db_path)
    run = first.run("Refund order 42", user_id="ana")
    first.desk.approve(run.approvals[0], by=ana)
    build(db_path).store.close()  # type: ignore[union-attr]
    agent = build(db_path)
    done = agent.continue_run(run.run_id)
    assert done.status == "completed"
    assert done.content.splitlines()[1] == "refund: refunded 30.00 on order 42"
    assert done.run_id == run.run_id
    assert agent.store.get_run(run.run_id).status == "completed"  # type: ignore[union-attr]


def test_decisions_are_rows_with_audit_fields(db_path: str) -> None:
    agent = build(db_path)
    run = agent.run("Refund order 42 and delete customer 7", user_id="ana")
    refund_req, delete_req = run.approvals
    agent.desk.approve(
        refund_req, by=bob, args={"order_id": "42", "amount": 20.0}, reason="partial"
    )
    agent.desk.reject(delete_req, by=root, reason="not on Fridays")
    store = agent.store
    assert store is not None
    rows = {a.tool_name: a for a in store.list_approvals(run_id=run.run_id)}
    assert rows["refund"].status == "approved" and rows["refund"].decided_by == "bob"
    assert rows["refund"].edited_args == {"order_id": "42", "amount": 20.0}
    assert rows["refund"].reason == "partial" and rows["refund"].decided_at is not None
    assert rows["delete_customer"].status == "rejected"
    assert rows["delete_customer"].reason == "not on Fridays"
    assert rows["delete_customer"].decided_by == "root"
    assert rows["refund"].requested_by == "ana" and rows["refund"].requested_at is not None


def test_deciding_twice_unknown_or_expired_is_refused_and_changes_nothing(db_path: str) -> None:
    agent = build(db_path)
    store = agent.store
    assert store is not None
    run = agent.run("Refund order 42", user_id="ana")
    approval = run.approvals[0]
    agent.desk.approve(approval, by=ana)
    with pytest.raises(ApprovalDecidedError, match="already approved by ana"):
        agent.desk.reject(approval, by=bob, reason="changed my mind")
    after = store.get_approval(approval.approval_id)
    assert after is not None and after.status == "approved" and after.decided_by == "ana"
    assert store.get_approval("apr_nope") is None
    with pytest.raises(ApprovalNotFoundError, match="no approval 'apr_nope'"):
        agent.desk.approve("apr_nope", by=ana)
    outcomes = [e["outcome"] for e in store.list_approval_events(approval.approval_id)]
    assert outcomes == ["applied", "refused"]


def test_expiry_counts_as_rejection(db_path: str) -> None:
    @tool(approval=Approval(role="required", expires_in=timedelta(milliseconds=50)))
    def wire(amount: float) -> str:
        return f"wired {amount}"

    calls = iter([[ToolCallPart("w1", "wire", {"amount": 5.0})], "ok"])

    def play(messages: list[Message], info: AgentInfo) -> Any:
        return next(calls)

    agent = Agent("bank", model=FunctionModel(play), tools=[wire], db=db_path)
    run = agent.run("wire 5")
    time.sleep(0.1)
    with pytest.raises(ApprovalDecidedError, match="expired at"):
        agent.desk.approve(run.approvals[0], by=ana)
    done = agent.continue_run(run.run_id)
    assert done.status == "completed"
    assert done.tool_calls[0].status == "rejected"
    assert "the approval expired at" in (done.tool_calls[0].error or "")


def test_roles_are_enforced_and_refusals_recorded(db_path: str) -> None:
    agent = build(db_path)
    store = agent.store
    assert store is not None
    run = agent.run("Refund order 42 and delete customer 7", user_id="ana")
    delete_req = run.approvals[1]
    with pytest.raises(
        ApprovalPermissionError, match="needs the 'admin' role; bob has roles: none"
    ):
        agent.desk.approve(delete_req, by=bob)
    with pytest.raises(ApprovalPermissionError, match="'admin' role; ana"):
        agent.desk.approve(delete_req, by=ana)  # the requester, without the role
    with pytest.raises(ApprovalPermissionError):
        agent.desk.reject(delete_req, by=bob, reason="no")
    assert store.get_approval(delete_req.approval_id).status == "pending"  # type: ignore[union-attr]
    events = store.list_approval_events(delete_req.approval_id)
    assert [(e["user_id"], e["action"], e["outcome"]) for e in events] == [
        ("bob", "approve", "refused"),
        ("ana", "approve", "refused"),
        ("bob", "reject", "refused"),
    ]
    ana_admin = Principal("ana", roles={"admin"})
    assert (
        agent.desk.approve(delete_req, by=ana_admin).status == "approved"
    )  # requester holding the role


def test_required_calls_allow_self_approval_unless_four_eyes(db_path: str) -> None:
    agent = build(db_path)
    run = agent.run("Refund order 42", user_id="ana")
    assert agent.desk.approve(run.approvals[0], by=ana).status == "approved"

    four_eyes = build(db_path)
    four_eyes.self_approval = False
    run = four_eyes.run("Refund order 42", user_id="ana")
    with pytest.raises(ApprovalPermissionError, match="requires someone else"):
        four_eyes.desk.approve(run.approvals[0], by=ana)
    assert four_eyes.desk.approve(run.approvals[0], by=bob).status == "approved"


def test_local_principal_defaults_and_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGNO_NB_USER", "carol")
    monkeypatch.setenv("AGNO_NB_ROLES", "admin, finance")
    assert local_principal() == Principal("carol", {"admin", "finance"})
    set_local_principal(Principal("dave"))
    try:
        assert local_principal().user_id == "dave"
    finally:
        set_local_principal(None)


def test_continue_with_edits_and_rejections_by_different_people(db_path: str) -> None:
    agent = build(db_path)
    run = agent.run("Refund order 42 and delete customer 7", user_id="ana")
    agent.desk.approve(run.approvals[0], by=bob, args={"order_id": "42", "amount": 12.5})
    with pytest.raises(RunStateError, match=r"1 undecided approval\(s\).*delete_customer"):
        agent.continue_run(run.run_id)
    agent.desk.reject(run.approvals[1], by=root, reason="not on Fridays")
    done = agent.continue_run(run.run_id)
    assert done.status == "completed"
    lines = done.content.splitlines()
    assert lines[0].startswith("lookup_order: ")
    assert "refunded 12.50 on order 42" in lines[1]
    assert "arguments edited by bob before approval" in lines[1]
    assert lines[2] == (
        "delete_customer: ERROR The call to 'delete_customer' was not approved "
        "(rejected by root: not on Fridays)."
    )
    refund_exec = next(t for t in done.tool_calls if t.name == "refund")
    assert refund_exec.args == {"order_id": "42", "amount": 12.5}


def _count_model_calls() -> tuple[FunctionModel, list[int]]:
    calls: list[int] = []

    def play(messages: list[Message], info: AgentInfo) -> Any:
        calls.append(len(messages))
        if isinstance(messages[-1].parts[-1], ToolResultPart):
            return "done"
        return [ToolCallPart(f"r{len(calls)}", "refund", {"order_id": "1", "amount": 5.0})]

    return FunctionModel(play), calls


def test_undecided_or_replayed_continue_makes_no_model_call_and_runs_nothing(
    db_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    effects = tmp_path / "effects.txt"
    monkeypatch.setenv("SIDE_EFFECTS", str(effects))
    model, calls = _count_model_calls()
    agent = Agent("support", model=model, tools=[refund], db=db_path)
    run = agent.run("refund")
    assert len(calls) == 1
    with pytest.raises(RunStateError, match="undecided"):
        agent.continue_run(run.run_id)
    assert len(calls) == 1 and not effects.exists()
    agent.desk.approve(run.approvals[0], by=ana)
    assert agent.continue_run(run.run_id).status == "completed"
    assert len(calls) == 2 and effects.read_text().count("refund") == 1
    with pytest.raises(RunStateError, match="is completed, not paused"):
        agent.continue_run(run.run_id)
    assert len(calls) == 2 and effects.read_text().count("refund") == 1


def test_a_run_pauses_and_resumes_several_times(db_path: str) -> None:
    turns = iter(
        [
            [ToolCallPart("a", "refund", {"order_id": "1", "amount": 5.0})],
            [ToolCallPart("b", "refund", {"order_id": "2", "amount": 6.0})],
            "both refunded",
        ]
    )

    def play(messages: list[Message], info: AgentInfo) -> Any:
        return next(turns)

    agent = Agent("support", model=FunctionModel(play), tools=[refund], db=db_path)
    run = agent.run("two refunds")
    agent.desk.approve(run.approvals[0], by=ana)
    second = agent.continue_run(run.run_id)
    assert second.status == "paused" and len(second.approvals) == 1
    assert second.approvals[0].args == {"order_id": "2", "amount": 6.0}
    agent.desk.approve(second.approvals[0], by=ana)
    final = agent.continue_run(run.run_id)
    assert final.status == "completed" and final.content == "both refunded"
    assert [t.status for t in final.tool_calls] == ["completed", "completed"]


def test_repeated_or_changed_calls_need_their_own_approval(db_path: str) -> None:
    """The model repeats an approved call, then changes its arguments: each new call
    pauses again; approving one call never lets another run."""
    turns = iter(
        [
            [ToolCallPart("a", "refund", {"order_id": "1", "amount": 5.0})],
            [ToolCallPart("b", "refund", {"order_id": "1", "amount": 5.0})],
            [ToolCallPart("c", "refund", {"order_id": "1", "amount": 5000.0})],
            [ToolCallPart("d", "refund", {"order": "1", "amount": 5.0})],
            "done",
        ]
    )

    def play(messages: list[Message], info: AgentInfo) -> Any:
        return next(turns)

    agent = Agent("support", model=FunctionModel(play), tools=[refund], db=db_path)
    run = agent.run("refund")
    agent.desk.approve(run.approvals[0], by=ana)
    again = agent.continue_run(run.run_id)
    assert again.status == "paused" and again.approvals[0].tool_call_id == "b"
    agent.desk.approve(again.approvals[0], by=ana)
    third = agent.continue_run(run.run_id)
    assert third.status == "paused" and third.approvals[0].args["amount"] == 5000.0
    agent.desk.reject(third.approvals[0], by=ana, reason="too much")
    fourth = agent.continue_run(run.run_id)  # renamed arguments: a new call, a new approval
    assert fourth.status == "paused" and fourth.approvals[0].args == {"order": "1", "amount": 5.0}
    agent.desk.approve(fourth.approvals[0], by=ana)
    final = agent.continue_run(run.run_id)
    assert [t.status for t in final.tool_calls] == ["completed", "completed", "rejected", "error"]
    assert "order_id: Field required" in (final.tool_calls[3].error or "")


def test_pausing_without_a_store_is_a_clear_error() -> None:
    agent = Agent("x", model=_count_model_calls()[0], tools=[refund], db=False)
    with pytest.raises(ConfigError, match="needs approval, and a run that pauses must be stored"):
        agent.run("refund")


def test_approval_events_serialise(db_path: str) -> None:
    events = list(build(db_path).run("Refund order 42", stream=True))
    data = events[-2].to_dict()
    assert data["event"] == "ApprovalRequested"
    assert data["approval"]["tool_name"] == "refund" and data["approval"]["status"] == "pending"
    paused = events[-1].to_dict()
    assert paused["status"] == "PAUSED" and paused["tools"][0]["name"] == "refund"
    json.dumps(paused)


def test_agent_get_run_loads_a_paused_run_with_its_approvals_in_another_process(
    db_path: str,
) -> None:
    import subprocess
    import sys

    run = build(db_path).run("Refund order 42 and delete customer 7", user_id="ana")
    build(db_path).store.close()  # type: ignore[union-attr]
    script = (
        "import json, sys\nfrom tests.approval_agent import build\n"
        "agent = build(sys.argv[1])\nrun = agent.get_run(sys.argv[2])\n"
        "print(json.dumps([run.status, [(a.tool_name, a.status) for a in run.approvals]]))\n"
        "agent.store.close()\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", script, db_path, run.run_id],
        capture_output=True, text=True, cwd=root, timeout=60, check=True,
    )  # fmt: skip
    status, approvals = json.loads(out.stdout)
    assert status == "paused"
    assert approvals == [["refund", "pending"], ["delete_customer", "pending"]]


async def test_agent_get_run_refuses_unknown_runs_and_other_agents_runs(db_path: str) -> None:
    support = build(db_path)
    run = support.run("Refund order 42", user_id="ana")
    assert (await support.aget_run(run.run_id)).approvals[0].tool_name == "refund"
    other = Agent("other", model=_count_model_calls()[0], db=db_path)
    with pytest.raises(RunNotFoundError, match=r"no run .* of agent 'other'"):
        other.get_run(run.run_id)
    with pytest.raises(RunNotFoundError):
        support.get_run("run_nope")
