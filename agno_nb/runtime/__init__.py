"""The service runtime: agents over an AgentOS-compatible HTTP API with SSE streaming.

``create_app(agents=[...], db=..., auth=...)`` builds the FastAPI app; ``AuthConfig``
says which API keys and JWTs it accepts. FastAPI is imported only when an app is built,
so ``import agno_nb.runtime`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = ["APIKey", "AuthConfig", "Caller", "JWTConfig", "create_app"]

_LOCATIONS = {
    "create_app": "agno_nb.runtime.app",
    "APIKey": "agno_nb.runtime.auth",
    "AuthConfig": "agno_nb.runtime.auth",
    "Caller": "agno_nb.runtime.auth",
    "JWTConfig": "agno_nb.runtime.auth",
}

if TYPE_CHECKING:
    from agno_nb.runtime.app import create_app
    from agno_nb.runtime.auth import APIKey, AuthConfig, Caller, JWTConfig


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'agno_nb.runtime' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
