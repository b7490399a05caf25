"""Approvals: the time from a decision to the continued run's first model request.

A run pauses on an approval-gated tool (DuckDB file store). We take the clock, approve,
call ``continue_run``, and the fake server (in this process, on 127.0.0.1, so the same
clock) notes when the continuation's first request arrives. Two ways of deciding: in the
same process as the continue (a notebook click), and through a fresh store object on the
same file after the pausing one let it go (a decision from elsewhere: a cold cache).
"""

from __future__ import annotations

import time

from agno_nb import Agent, Claude, Principal, tool
from agno_nb.testing import FakeAnthropic, RecordedRequest, Turn
from bench._context import Context
from bench._report import Section, ms
from bench._scenario import API_KEY, MODEL_ID, last_has_tool_result
from bench._stats import progress, summarize

TARGET_MS = 20.0


@tool(approval="required")
def refund(order_id: str, amount: float) -> str:
    """Refund an order."""
    return f"refunded {amount} on {order_id}"


class _Clock:
    """A handler that pauses each new prompt on ``refund`` and stamps continuations."""

    def __init__(self) -> None:
        self.arrived: float | None = None

    def __call__(self, request: RecordedRequest) -> Turn:
        if last_has_tool_result(request.messages):
            if self.arrived is None:
                self.arrived = time.perf_counter()
            return Turn.text("Refunded.")
        return Turn.tool_call("refund", {"order_id": "42", "amount": 30.0})


def _measure(agent: Agent, clock: _Clock, *, cold: bool) -> tuple[float, float]:
    """(decision -> first request, deciding alone), in seconds, for one paused run.

    ``cold``: the pausing store is closed and a new Agent (so a new store on the same
    file, with empty caches) loads the approval, decides and continues, as another
    process would."""
    run = agent.run("Refund order 42", user_id="ana", session_id="bench")
    assert run.status == "paused", run
    approval = run.approvals[0]
    if cold:
        assert agent.store is not None
        agent.store.close()
        agent = Agent(agent.name, model=agent.model, tools=[refund], db=agent.db)
        assert agent.store is not None
        found = agent.store.get_approval(approval.approval_id)
        assert found is not None
        approval = found
    clock.arrived = None
    start = time.perf_counter()
    agent.desk.approve(approval, by=Principal("bob"))
    decided = time.perf_counter()
    done = agent.continue_run(run.run_id)
    assert done.status == "completed", done  # type: ignore[union-attr]
    assert clock.arrived is not None
    return clock.arrived - start, decided - start


def decision_latency(ctx: Context) -> Section:
    section = Section(
        "Approvals: decision to the continued run's first model request",
        ["decided in", "median ms", "p90 ms", "of which deciding, ms", "runs"],
        description=(
            "approve() then continue_run() on a paused run in a DuckDB file store; the "
            "clock stops when the continuation's first request reaches the fake server "
            "(same process, 127.0.0.1)."
        ),
    )
    clock = _Clock()
    fake = FakeAnthropic(handler=clock)
    n = ctx.n(100)
    with fake.serve() as url:
        model = Claude(MODEL_ID, base_url=url, api_key=API_KEY, max_retries=0)
        for label, cold in (("the same process (warm)", False), ("a fresh store (cold)", True)):
            progress(f"approvals: {n} pause/approve/continue cycles, {label}")
            agent = Agent("bench", model=model, tools=[refund], db=ctx.path(f"apr-{cold}.duckdb"))
            for _ in range(5):
                _measure(agent, clock, cold=cold)  # warm-up
            samples = [_measure(agent, clock, cold=cold) for _ in range(n)]
            total = summarize([s[0] for s in samples])
            deciding = summarize([s[1] for s in samples])
            section.add(label, ms(total["median"]), ms(total["p90"]), ms(deciding["median"]), n)
            section.check(
                f"decision to first model request ≤ {TARGET_MS:g} ms ({label})",
                f"{total['median']:.2f} ms median",
                total["median"] <= TARGET_MS,
            )
            if agent.store is not None:
                agent.store.close()
    return section
