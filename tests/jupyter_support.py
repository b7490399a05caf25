"""Shared pieces of the notebook tests: the tools and agent of the support story, and an
IPython shell with the extension loaded."""

from __future__ import annotations

from typing import Any

from agno_nb import Agent, Claude, tool


@tool
def lookup_order(order_id: str) -> dict[str, Any]:
    """Look up an order."""
    return {"id": order_id, "status": "delivered", "total": 30.0}


@tool(approval="required")
def refund(order_id: str, amount: float) -> str:
    """Refund an order."""
    return f"refunded {amount:.2f} on order {order_id}"


@tool(approval="admin")
def delete_customer(customer_id: str) -> str:
    """Delete a customer."""
    return f"deleted customer {customer_id}"


def support_agent(url: str, db: str, **options: Any) -> Agent:
    model = Claude("claude-haiku-4-5", base_url=url, api_key="sk-test", max_retries=0)
    tools = [lookup_order, refund, delete_customer]
    return Agent("support", model=model, tools=tools, db=db, **options)


def magics_of(shell: Any) -> Any:
    from agno_nb.jupyter import _STATE

    return _STATE[id(shell)][0]


def texts(cell: Any) -> str:
    """Everything a cell printed or displayed, as text."""
    parts = []
    for output in cell.outputs:
        assert output.output_type != "error", f"{output.ename}: {output.evalue}"
        if output.output_type == "stream":
            parts.append(output.text)
        else:
            data = output.get("data", {})
            parts += [str(data.get(k, "")) for k in ("text/markdown", "text/plain", "text/html")]
    return "\n".join(parts)
