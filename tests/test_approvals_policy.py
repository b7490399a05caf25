"""Policies judged at decision time: edited arguments, odd decisions, failing policies."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agno_nb import Agent, ApprovalDesk, FunctionModel, Principal, ToolCall, tool
from agno_nb.exceptions import (
    ApprovalArgumentsError,
    ApprovalError,
    ApprovalPermissionError,
)
from agno_nb.messages import Message, ToolCallPart, ToolResultPart
from agno_nb.models.function import AgentInfo

ana = Principal("ana")
bob = Principal("bob")
root = Principal("root", roles={"admin"})


def tiered(call: ToolCall) -> str:
    return "admin" if call.args["amount"] > 500 else "required"


@tool(approval=tiered)
def pay(order_id: str, amount: float) -> str:
    """Pay out money."""
    path = os.environ.get("SIDE_EFFECTS")
    if path:
        with open(path, "a") as f:
            f.write(f"pay {order_id} {amount}\n")
    return f"paid {amount:.2f} on {order_id}"


def _asks(*calls: ToolCallPart) -> FunctionModel:
    def play(messages: list[Message], info: AgentInfo) -> Any:
        results = [p for p in messages[-1].parts if isinstance(p, ToolResultPart)]
        if results:
            return "; ".join(f"{'ERROR ' if p.is_error else ''}{p.content}" for p in results)
        return list(calls)

    return FunctionModel(play)


def _paying(db_path: str, amount: float = 10.0, **kwargs: Any) -> Agent:
    model = _asks(ToolCallPart("c1", "pay", {"order_id": "42", "amount": amount}))
    return Agent("payments", model=model, tools=[pay], db=db_path, **kwargs)


@pytest.fixture
def effects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "effects.txt"
    monkeypatch.setenv("SIDE_EFFECTS", str(path))
    return path


def test_edited_arguments_that_need_a_higher_role_are_refused_and_audited(
    db_path: str, effects: Path
) -> None:
    agent = _paying(db_path)
    run = agent.run("pay 10 on order 42", user_id="ana")
    (approval,) = run.approvals
    assert approval.required_role == "required"
    with pytest.raises(ApprovalPermissionError, match=r"edited arguments need 'admin'.*bob"):
        agent.desk.approve(approval, by=bob, args={"order_id": "42", "amount": 100000.0})
    row = agent.desk.get(approval.approval_id)
    assert row.status == "pending" and row.edited_args is None
    (event,) = agent.desk.events(approval.approval_id)
    assert (event["user_id"], event["outcome"]) == ("bob", "refused")
    assert "edited arguments need 'admin'" in event["detail"]
    # nothing runs: the run cannot continue, and no payment happened
    assert not effects.exists()
    # an admin may approve the same edit; the edited call is what runs
    agent.desk.approve(approval, by=root, args={"order_id": "42", "amount": 600.0})
    done = agent.continue_run(run.run_id)
    assert done.status == "completed"
    assert effects.read_text() == "pay 42 600.0\n"


def test_edited_arguments_within_the_same_rule_are_approved(db_path: str, effects: Path) -> None:
    agent = _paying(db_path)
    run = agent.run("pay", user_id="ana")
    agent.desk.approve(run.approvals[0], by=bob, args={"order_id": "42", "amount": 20.0})
    assert agent.continue_run(run.run_id).status == "completed"
    assert effects.read_text() == "pay 42 20.0\n"


def test_edited_arguments_are_validated_before_anything_is_stored(db_path: str) -> None:
    agent = _paying(db_path)
    run = agent.run("pay", user_id="ana")
    approval = run.approvals[0]
    bad_edits: list[Any] = [
        {"order_id": "42", "amount": "lots"},
        {"order_id": "42"},
        {"order_id": "42", "amount": 5.0, "extra": 1},
        ["not", "an", "object"],
    ]
    for bad in bad_edits:
        with pytest.raises(ApprovalArgumentsError, match=r"pay|object"):
            agent.desk.approve(approval, by=root, args=bad)
    row = agent.desk.get(approval.approval_id)
    assert row.status == "pending" and row.edited_args is None


def test_edits_cannot_be_approved_where_the_policy_is_unknown(db_path: str) -> None:
    """A desk over the store alone (no agent definition) cannot judge an edit."""
    agent = _paying(db_path)
    run = agent.run("pay", user_id="ana")
    bare = ApprovalDesk(agent.desk.store)
    with pytest.raises(ApprovalPermissionError, match="cannot be checked here"):
        bare.approve(run.approvals[0], by=root, args={"order_id": "42", "amount": 1.0})
    assert bare.approve(run.approvals[0], by=bob).status == "approved"  # as proposed: fine


@pytest.mark.parametrize("status", ["APPROVED", "approve", "expired", "pending", ""])
def test_only_the_documented_decisions_are_accepted(db_path: str, status: str) -> None:
    agent = _paying(db_path)
    run = agent.run("pay", user_id="ana")
    with pytest.raises(ApprovalError, match="'approved' or 'rejected'"):
        agent.desk.decide(run.approvals[0], status, bob)
    assert agent.desk.get(run.approvals[0].approval_id).status == "pending"
    assert agent.desk.events() == []


def test_the_store_refuses_undocumented_decisions_too(db_path: str) -> None:
    agent = _paying(db_path)
    run = agent.run("pay", user_id="ana")
    assert agent.store is not None
    with pytest.raises(ApprovalError, match="'approved' or 'rejected'"):
        agent.store.decide_approval(
            run.approvals[0].approval_id, status="APPROVED", decided_by="bob"
        )
    assert agent.desk.get(run.approvals[0].approval_id).status == "pending"


def _failing(call: ToolCall) -> str | None:
    return "admin" if call.args["amount"] > 500 else None  # KeyError without 'amount'


@tool(approval=_failing)
def send(order_id: str, amount: float = 1.0) -> str:
    """Send money."""
    return f"sent {amount}"


@pytest.mark.parametrize(
    ("policy", "error"),
    [
        (_failing, "KeyError: 'amount'"),
        (lambda call: 42, "TypeError"),
    ],
)
def test_a_failing_policy_needs_the_strictest_rule_and_shows_its_error(
    db_path: str, policy: Any, error: str
) -> None:
    gated = tool(approval=policy)(send.function)
    model = _asks(ToolCallPart("c1", "send", {"order_id": "7"}))
    agent = Agent("sender", model=model, tools=[gated], db=db_path)
    run = agent.run("send", user_id="ana")
    assert run.status == "paused"  # never auto-run on a policy error
    (approval,) = run.approvals
    assert approval.required_role == "admin"
    assert approval.policy_error is not None and error in approval.policy_error
    stored = agent.desk.get(approval.approval_id)
    assert stored.policy_error == approval.policy_error
    with pytest.raises(ApprovalPermissionError, match="'admin' role"):
        agent.desk.approve(approval, by=ana)
    agent.desk.approve(approval, by=root)
    assert agent.continue_run(run.run_id).content == "sent 1.0"


def test_the_fallback_role_of_a_failing_policy_is_configurable(db_path: str) -> None:
    model = _asks(ToolCallPart("c1", "send", {"order_id": "7"}))
    agent = Agent("s", model=model, tools=[send], db=db_path, policy_error_role="security")
    run = agent.run("send", user_id="ana")
    assert run.approvals[0].required_role == "security"


def test_an_edit_is_judged_by_the_tools_own_policy_when_no_override_applies(db_path: str) -> None:
    model = _asks(ToolCallPart("c1", "send", {"order_id": "7", "amount": 5.0}))
    agent = Agent("s", model=model, tools=[send], db=db_path, approvals={"send": "required"})
    run = agent.run("send", user_id="ana")
    assert run.approvals[0].required_role == "required"
    agent.approvals = {}  # the tool's own (failing-on-edit) policy applies to the edit
    with pytest.raises(ApprovalPermissionError, match="edited arguments need 'admin'"):
        agent.desk.approve(run.approvals[0], by=bob, args={"order_id": "7", "amount": 900.0})


async def test_the_service_refuses_an_escalating_edit_with_403_and_runs_nothing(
    db_path: str, effects: Path
) -> None:
    from agno_nb.runtime import create_app
    from tests.service_support import ANA, KEYS, ROOT_KEY, as_user, client_for

    app = create_app([_paying(db_path)], auth=KEYS)
    async with client_for(app, raise_errors=False) as api:
        reply = await api.post(
            "/agents/payments/runs", json={"message": "pay", "stream": False}, headers=as_user(ANA)
        )
        run = reply.json()
        (approval,) = (
            await api.get(f"/approvals?run_id={run['run_id']}", headers=as_user(ANA))
        ).json()["data"]
        path = f"/approvals/{approval['approval_id']}/resolve"
        escalate = {"status": "approved", "args": {"order_id": "42", "amount": 100000.0}}
        refused = await api.post(path, json=escalate, headers=as_user(ANA))
        assert refused.status_code == 403, refused.text
        assert "edited arguments need 'admin'" in refused.text
        invalid = {"status": "approved", "args": {"order_id": "42", "amount": "lots"}}
        assert (await api.post(path, json=invalid, headers=as_user(ROOT_KEY))).status_code == 422
        blocked = await api.post(
            f"/agents/payments/runs/{run['run_id']}/continue",
            json={"stream": False},
            headers=as_user(ANA),
        )
        assert blocked.status_code == 409 and "undecided" in blocked.text
        assert not effects.exists()
        ok = await api.post(path, json=escalate, headers=as_user(ROOT_KEY))
        assert ok.status_code == 200 and ok.json()["decided_by"] == "root"
