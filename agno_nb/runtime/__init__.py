"""The service runtime: agents over an AgentOS-compatible HTTP API with SSE streaming.

``create_app(agents=[...], db=..., auth=...)`` builds the FastAPI app; ``AuthConfig``
says which API keys and JWTs it accepts. FastAPI is imported only when an app is built,
so ``import agno_nb.runtime`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agno_nb._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(globals(), _LOCATIONS)
