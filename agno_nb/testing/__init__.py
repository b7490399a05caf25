"""Test helpers for agno-nb users and for agno-nb itself.

``FakeAnthropic`` is a fake Anthropic Messages API server (real wire format, scripted turn
by turn); ``TestModel`` and ``FunctionModel`` replace the model without any network.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = ["FakeAnthropic", "FunctionModel", "RecordedRequest", "TestModel", "Turn"]

_LOCATIONS = {
    "FakeAnthropic": "agno_nb.testing.fake_anthropic",
    "RecordedRequest": "agno_nb.testing.fake_anthropic",
    "Turn": "agno_nb.testing.fake_anthropic",
    "FunctionModel": "agno_nb.models.function",
    "TestModel": "agno_nb.models.test",
}

if TYPE_CHECKING:
    from agno_nb.models.function import FunctionModel
    from agno_nb.models.test import TestModel
    from agno_nb.testing.fake_anthropic import FakeAnthropic, RecordedRequest, Turn


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'agno_nb.testing' has no attribute {name!r}")
    return getattr(import_module(module), name)
