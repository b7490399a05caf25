"""Persistence: the ``Store`` protocol and ``open_store``.

A store keeps sessions and runs (and, with the approvals and tracing features, approvals
and spans). The DuckDB store is the embedded default; ``db=None`` means an in-memory
DuckDB; ``db=False`` means no store at all (no history, and runs cannot pause).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import timedelta

    from agno_nb.approvals import ApprovalRequest
    from agno_nb.run import RunOutput

__all__ = ["DEFAULT_DB", "SessionRecord", "Store", "open_store"]

DEFAULT_DB = "agno_nb.duckdb"


@dataclass(slots=True, kw_only=True)
class SessionRecord:
    """A conversation: the runs that share a session id, owned by one user."""

    session_id: str
    user_id: str
    agent_id: str
    created_at: datetime
    updated_at: datetime
    state: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Store(Protocol):
    """What the runtime needs from a database. Methods are synchronous and thread-safe."""

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        ...

    def claim_session(self, session_id: str, user_id: str, agent_id: str) -> SessionRecord:
        """Return the session, creating it for ``user_id`` if it is new.

        Raises ``SessionAccessError`` if it belongs to another user.
        """
        ...

    def save_run(self, run: RunOutput, *, durable: bool = False) -> None:
        """Insert or update the run (and touch its session).

        With ``durable=False`` the write may be queued and happen shortly after; with
        ``durable=True`` it is committed when this returns.
        """
        ...

    def get_run(self, run_id: str) -> RunOutput | None: ...

    def history(self, session_id: str, user_id: str, limit: int) -> list[RunOutput]:
        """The last ``limit`` completed runs of the user's session, oldest first."""
        ...

    def get_session(self, session_id: str) -> SessionRecord | None: ...

    def list_sessions(
        self, *, user_id: str | None = None, agent_id: str | None = None, limit: int = 100
    ) -> list[SessionRecord]: ...

    def list_runs(
        self,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[RunOutput]:
        """Runs, newest first."""
        ...

    # -- approvals and leases ------------------------------------------------------------

    def save_pause(self, run: RunOutput, approvals: list[ApprovalRequest]) -> None:
        """Persist a paused run and its new approvals, durably."""
        ...

    def get_approval(self, approval_id: str) -> ApprovalRequest | None: ...

    def list_approvals(
        self,
        *,
        status: str | None = None,
        run_id: str | None = None,
        session_id: str | None = None,
        agent_id: str | None = None,
        requested_by: str | None = None,
        required_role: str | None = None,
        limit: int = 1000,
    ) -> list[ApprovalRequest]: ...

    def decide_approval(
        self,
        approval_id: str,
        *,
        status: str,
        decided_by: str,
        reason: str | None = None,
        edited_args: dict[str, Any] | None = None,
        check: Callable[[ApprovalRequest], str | None] | None = None,
    ) -> ApprovalRequest:
        """``check`` the approval (None: the decider may), then compare-and-set from
        ``pending``, atomically; raises if refused, decided, expired or unknown."""
        ...

    def list_approval_events(self, approval_id: str | None = None) -> list[dict[str, Any]]: ...

    def lease_run(self, run_id: str, *, owner: str, ttl: timedelta, agent_id: str) -> RunOutput:
        """Move a paused, fully decided run to ``running`` under ``owner``'s lease."""
        ...

    def flush(self) -> None:
        """Wait until every queued write is committed."""
        ...

    def close(self) -> None: ...


_open_stores: dict[str, Store] = {}


def open_store(db: str | os.PathLike[str] | Store | None) -> Store:
    """The store for an agent's ``db`` argument.

    A path (``.duckdb``) opens a DuckDB store, shared by every agent of this process that
    names the same file; ``None`` (or DuckDB's own ``":memory:"``) is a fresh in-memory
    DuckDB; a ``Store`` is used as is.
    """
    if db is None or db == ":memory:":
        from agno_nb.storage.duckdb import DuckDBStore

        return DuckDBStore(":memory:")
    if isinstance(db, Store):
        return db
    path = os.path.abspath(os.fspath(db))
    store = _open_stores.get(path)
    if store is None or store.closed:
        from agno_nb.storage.duckdb import DuckDBStore

        store = _open_stores[path] = DuckDBStore(path)
    return store


def default_db() -> str:
    """``$AGNO_NB_DB`` or ``agno_nb.duckdb`` in the working directory."""
    return os.environ.get("AGNO_NB_DB") or DEFAULT_DB
