"""The one exception tree of agno-nb.

::

    AgnoNBError
     ├── ConfigError                 bad agent / model / store configuration
     │    ├── MissingAPIKeyError     no Anthropic credential configured
     │    └── AgentDefinitionError   a %%agent_def / Agent.from_yaml body is wrong
     ├── ModelError                  the model could not give a usable answer
     │    ├── ModelAPIError          the API answered with an error status (status_code)
     │    ├── ModelTimeoutError      the API did not answer in time
     │    ├── ModelConnectionError   the API could not be reached
     │    └── OutputValidationError  the final answer did not fit output_schema
     ├── RunError                    a run cannot start, go on, or be continued
     │    ├── RunNotFoundError
     │    ├── RunStateError          e.g. continuing a completed run, or one still undecided
     │    ├── RunLeaseError          another process is continuing this run
     │    ├── RunAbandonedError      (stored error_type) the process running it died
     │    └── ToolCallLimitError     the model made more requests than max_turns
     ├── ApprovalError               a decision that cannot be applied
     │    ├── ApprovalNotFoundError
     │    ├── ApprovalDecidedError   decided already (double decision) or expired
     │    ├── ApprovalPermissionError  the principal lacks the required role
     │    └── ApprovalArgumentsError   edited arguments do not fit the tool's schema
     ├── ExportError                 a notebook agent cannot be exported (.problems lists why)
     ├── MCPError                    an MCP server cannot be started, reached, or died mid-call
     │    └── MCPToolError           the server's tool answered with an error (its text)
     ├── SessionAccessError          the session belongs to another user
     └── StoreError                  the store cannot be read or written
          └── StoreBusyError         another process held the store for too long

A tool's own exceptions never escape a run: they go back to the model as tool errors.
"""

from __future__ import annotations

__all__ = [
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
]


class AgnoNBError(Exception):
    """Base class of every error agno-nb raises on purpose."""

    #: the run this error ended, when it ended one (the run is stored as ``failed``)
    run_id: str | None = None


class ConfigError(AgnoNBError, ValueError):
    """The configuration of an agent, model or store is wrong."""


class MissingAPIKeyError(ConfigError):
    """No API key (or auth token) is configured for the model."""


class AgentDefinitionError(ConfigError):
    """A YAML agent definition is wrong; ``problems`` lists ``(line, key, message)``."""

    def __init__(self, problems: list[tuple[int | None, str, str]]) -> None:
        self.problems = problems
        lines = [
            f"line {line}, {key}: {msg}" if line else f"{key}: {msg}" if key else msg
            for line, key, msg in problems
        ]
        super().__init__("invalid agent definition:\n  " + "\n  ".join(lines))


class ModelError(AgnoNBError):
    """The model did not give a usable answer."""


class ModelAPIError(ModelError):
    """The model API answered with an error status."""

    def __init__(
        self, message: str, *, status_code: int | None = None, error_type: str = ""
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type


class ModelTimeoutError(ModelError, TimeoutError):
    """The model API did not answer within the configured timeout."""


class ModelConnectionError(ModelError, ConnectionError):
    """The model API could not be reached, or the connection broke mid-answer."""


class OutputValidationError(ModelError):
    """The model's final answer could not be validated against ``output_schema``."""


class RunError(AgnoNBError):
    """A run cannot start, go on, or be continued."""


class RunNotFoundError(RunError, LookupError):
    """No run with that id is in the store."""


class RunStateError(RunError):
    """The run is not in a state that allows the operation."""


class RunLeaseError(RunError):
    """Another process holds the lease to continue this run."""


class RunAbandonedError(RunError):
    """The process running this run died (or its lease ran out) before it finished.

    Never raised: a store that opens the file marks such runs ``failed`` with this
    ``error_type`` (see ``docs/tracing.md``, crash semantics).
    """


class ToolCallLimitError(RunError):
    """The model asked for more tool calls or turns than the agent allows."""


class ApprovalError(AgnoNBError):
    """A decision on an approval cannot be applied."""


class ApprovalNotFoundError(ApprovalError, LookupError):
    """No approval with that id is in the store."""


class ApprovalDecidedError(ApprovalError):
    """The approval was decided already, or has expired."""


class ApprovalPermissionError(ApprovalError, PermissionError):
    """The principal may not decide this approval."""


class ApprovalArgumentsError(ApprovalError, ValueError):
    """Edited arguments do not fit the tool's schema (nothing was stored)."""


class ExportError(AgnoNBError):
    """``agno-nb export`` refused: ``problems`` lists every reason, one line each (hidden
    state, a needed cell with magics, an ambiguous or unknown agent, an unsafe folder)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("cannot export: " + "; ".join(problems))
        self.problems = list(problems)


class MCPError(AgnoNBError):
    """An MCP server could not be started or reached, or it closed the connection."""


class MCPToolError(MCPError):
    """An MCP tool answered with ``is_error``; the message is the server's text."""


class SessionAccessError(AgnoNBError, PermissionError):
    """The session belongs to another user."""


class StoreError(AgnoNBError):
    """The store cannot be read or written."""


class StoreBusyError(StoreError, TimeoutError):
    """Another process held the store file for longer than the lock timeout."""
