"""Test helpers for agno-nb users and for agno-nb itself.

``FakeAnthropic`` is a fake Anthropic Messages API server (real wire format, scripted turn
by turn); ``TestModel`` and ``FunctionModel`` replace the model without any network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agno_nb._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(globals(), _LOCATIONS)
