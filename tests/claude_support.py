"""What Claude tests share: a Claude pointed at FakeAnthropic, and two small tools."""

from __future__ import annotations

from typing import Any

from agno_nb import Claude, tool
from agno_nb.testing import FakeAnthropic


@tool
def lookup_order(order_id: str) -> dict[str, str]:
    """Look up an order by its id."""
    return {"id": order_id, "status": "shipped"}


@tool
def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(reason)


def claude(fake: FakeAnthropic, model: str = "claude-sonnet-4-6", **options: Any) -> Claude:
    """The real SDK against ``fake`` on loopback, with no retries unless asked."""
    settings: dict[str, Any] = {"api_key": "sk-test", "base_url": fake.url, "max_retries": 0}
    settings.update(options)
    return Claude(model, **settings)
