"""An agent definition shared by the cross-process approval tests (imported by workers).

Its model is a FunctionModel: on a prompt it asks for ``lookup_order`` and ``refund`` (and
``delete_customer`` when the prompt says "delete"); once it sees tool results it answers
with a line per result. ``refund`` appends a line to ``$SIDE_EFFECTS`` each time it runs,
so a test can count real executions across processes.
"""

from __future__ import annotations

import os
from typing import Any

from agno_nb import Agent, FunctionModel, tool
from agno_nb.messages import Message, ToolCallPart, ToolResultPart
from agno_nb.models.function import AgentInfo


@tool
def lookup_order(order_id: str) -> dict[str, str]:
    """Look up an order."""
    return {"id": order_id, "status": "delivered"}


@tool(approval="required")
def refund(order_id: str, amount: float) -> str:
    """Refund an order."""
    path = os.environ.get("SIDE_EFFECTS")
    if path:
        with open(path, "a") as f:
            f.write(f"refund {order_id} {amount} pid={os.getpid()}\n")
    return f"refunded {amount:.2f} on order {order_id}"


@tool(approval="admin")
def delete_customer(customer_id: str) -> str:
    """Delete a customer."""
    return f"deleted customer {customer_id}"


def play(messages: list[Message], info: AgentInfo) -> Any:
    last = messages[-1]
    results = [p for p in last.parts if isinstance(p, ToolResultPart)]
    if results:
        return "\n".join(f"{p.name}: {'ERROR ' if p.is_error else ''}{p.content}" for p in results)
    calls = [
        ToolCallPart(f"call_{len(messages)}_1", "lookup_order", {"order_id": "42"}),
        ToolCallPart(f"call_{len(messages)}_2", "refund", {"order_id": "42", "amount": 30.0}),
    ]
    if "delete" in last.text:
        calls.append(
            ToolCallPart(f"call_{len(messages)}_3", "delete_customer", {"customer_id": "7"})
        )
    return calls


def build(db: str) -> Agent:
    return Agent(
        "support", model=FunctionModel(play), tools=[lookup_order, refund, delete_customer], db=db
    )
