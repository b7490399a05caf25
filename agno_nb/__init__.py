"""agno-nb: a Jupyter-native agent runtime with approvals, sessions and traces.

``import agno_nb`` is cheap: names are imported on first use, and heavy dependencies
(anthropic, duckdb, pandas, pydantic) only when a feature needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    # agents and runs
    "Agent",
    "RunContext",
    "RunOutput",
    "RunStatus",
    "ToolExecution",
    # tools
    "MCPTools",
    "Tool",
    "tool",
    # approvals and identity
    "Approval",
    "ApprovalDesk",
    "ApprovalRequest",
    "ApprovalRules",
    "Principal",
    "ToolCall",
    "local_principal",
    "set_local_principal",
    # models
    "Claude",
    "FunctionModel",
    "Model",
    "TestModel",
    # conversation
    "Message",
    "Usage",
    # errors
    "AgnoNBError",
    "ApprovalError",
    "ConfigError",
    "ModelError",
    "RunError",
    "StoreError",
    "__version__",
]

_LOCATIONS = {
    "Agent": "agno_nb.agent",
    "RunContext": "agno_nb.tools",
    "MCPTools": "agno_nb.mcp",
    "Tool": "agno_nb.tools",
    "tool": "agno_nb.tools",
    "RunOutput": "agno_nb.run",
    "RunStatus": "agno_nb.run",
    "ToolExecution": "agno_nb.run",
    "Approval": "agno_nb.approvals",
    "ApprovalDesk": "agno_nb.desk",
    "ApprovalRequest": "agno_nb.approvals",
    "ApprovalRules": "agno_nb.approvals",
    "Principal": "agno_nb.approvals",
    "ToolCall": "agno_nb.approvals",
    "local_principal": "agno_nb.approvals",
    "set_local_principal": "agno_nb.approvals",
    "Claude": "agno_nb.models.anthropic",
    "FunctionModel": "agno_nb.models.function",
    "Model": "agno_nb.models",
    "TestModel": "agno_nb.models.test",
    "Message": "agno_nb.messages",
    "Usage": "agno_nb.messages",
    "AgnoNBError": "agno_nb.exceptions",
    "ApprovalError": "agno_nb.exceptions",
    "ConfigError": "agno_nb.exceptions",
    "ModelError": "agno_nb.exceptions",
    "RunError": "agno_nb.exceptions",
    "StoreError": "agno_nb.exceptions",
}

if TYPE_CHECKING:
    from agno_nb.agent import Agent
    from agno_nb.approvals import (
        Approval,
        ApprovalRequest,
        ApprovalRules,
        Principal,
        ToolCall,
        local_principal,
        set_local_principal,
    )
    from agno_nb.desk import ApprovalDesk
    from agno_nb.exceptions import (
        AgnoNBError,
        ApprovalError,
        ConfigError,
        ModelError,
        RunError,
        StoreError,
    )
    from agno_nb.mcp import MCPTools
    from agno_nb.messages import Message, Usage
    from agno_nb.models import Model
    from agno_nb.models.anthropic import Claude
    from agno_nb.models.function import FunctionModel
    from agno_nb.models.test import TestModel
    from agno_nb.run import RunOutput, RunStatus, ToolExecution
    from agno_nb.tools import RunContext, Tool, tool


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext agno_nb``: the %agent magics, rich displays and approval widgets."""
    from agno_nb.jupyter import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from agno_nb.jupyter import unload_ipython_extension as unload

    unload(ipython)


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'agno_nb' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
