"""agno-nb: a Jupyter-native agent runtime with approvals, sessions and traces.

``import agno_nb`` is cheap: names are imported on first use, and heavy dependencies
(anthropic, duckdb, pandas, pydantic) only when a feature needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agno_nb._lazy import lazy_exports

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
    "Toolset",
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
    "ModelRequest",
    "ModelResponse",
    "TestModel",
    # conversation
    "Message",
    "Usage",
    # storage
    "Store",
    # errors (the tree is drawn in agno_nb.exceptions)
    "AgentDefinitionError",
    "AgnoNBError",
    "ApprovalArgumentsError",
    "ApprovalDecidedError",
    "ApprovalError",
    "ApprovalNotFoundError",
    "ApprovalPermissionError",
    "ConfigError",
    "ExportError",
    "MCPError",
    "MCPToolError",
    "MissingAPIKeyError",
    "ModelAPIError",
    "ModelConnectionError",
    "ModelError",
    "ModelTimeoutError",
    "OutputValidationError",
    "RunAbandonedError",
    "RunError",
    "RunLeaseError",
    "RunNotFoundError",
    "RunStateError",
    "SessionAccessError",
    "StoreBusyError",
    "StoreError",
    "ToolCallLimitError",
    "__version__",
]

_LOCATIONS = {
    "Agent": "agno_nb.agent",
    "RunContext": "agno_nb.tools",
    "MCPTools": "agno_nb.mcp",
    "Tool": "agno_nb.tools",
    "Toolset": "agno_nb.tools",
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
    "ModelRequest": "agno_nb.models",
    "ModelResponse": "agno_nb.models",
    "TestModel": "agno_nb.models.test",
    "Message": "agno_nb.messages",
    "Usage": "agno_nb.messages",
    "Store": "agno_nb.storage",
    "AgentDefinitionError": "agno_nb.exceptions",
    "AgnoNBError": "agno_nb.exceptions",
    "ApprovalArgumentsError": "agno_nb.exceptions",
    "ApprovalDecidedError": "agno_nb.exceptions",
    "ApprovalError": "agno_nb.exceptions",
    "ApprovalNotFoundError": "agno_nb.exceptions",
    "ApprovalPermissionError": "agno_nb.exceptions",
    "ConfigError": "agno_nb.exceptions",
    "ExportError": "agno_nb.exceptions",
    "MCPError": "agno_nb.exceptions",
    "MCPToolError": "agno_nb.exceptions",
    "MissingAPIKeyError": "agno_nb.exceptions",
    "ModelAPIError": "agno_nb.exceptions",
    "ModelConnectionError": "agno_nb.exceptions",
    "ModelError": "agno_nb.exceptions",
    "ModelTimeoutError": "agno_nb.exceptions",
    "OutputValidationError": "agno_nb.exceptions",
    "RunAbandonedError": "agno_nb.exceptions",
    "RunError": "agno_nb.exceptions",
    "RunLeaseError": "agno_nb.exceptions",
    "RunNotFoundError": "agno_nb.exceptions",
    "RunStateError": "agno_nb.exceptions",
    "SessionAccessError": "agno_nb.exceptions",
    "StoreBusyError": "agno_nb.exceptions",
    "StoreError": "agno_nb.exceptions",
    "ToolCallLimitError": "agno_nb.exceptions",
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
        AgentDefinitionError,
        AgnoNBError,
        ApprovalArgumentsError,
        ApprovalDecidedError,
        ApprovalError,
        ApprovalNotFoundError,
        ApprovalPermissionError,
        ConfigError,
        ExportError,
        MCPError,
        MCPToolError,
        MissingAPIKeyError,
        ModelAPIError,
        ModelConnectionError,
        ModelError,
        ModelTimeoutError,
        OutputValidationError,
        RunAbandonedError,
        RunError,
        RunLeaseError,
        RunNotFoundError,
        RunStateError,
        SessionAccessError,
        StoreBusyError,
        StoreError,
        ToolCallLimitError,
    )
    from agno_nb.mcp import MCPTools
    from agno_nb.messages import Message, Usage
    from agno_nb.models import Model, ModelRequest, ModelResponse
    from agno_nb.models.anthropic import Claude
    from agno_nb.models.function import FunctionModel
    from agno_nb.models.test import TestModel
    from agno_nb.run import RunOutput, RunStatus, ToolExecution
    from agno_nb.storage import Store
    from agno_nb.tools import RunContext, Tool, Toolset, tool


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext agno_nb``: the %agent magics, rich displays and approval widgets."""
    from agno_nb.jupyter import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from agno_nb.jupyter import unload_ipython_extension as unload

    unload(ipython)


__getattr__, __dir__ = lazy_exports(globals(), _LOCATIONS)
