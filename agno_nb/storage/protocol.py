"""The ``Store`` protocol: everything callers ask of a database, and ``SessionRecord``.

A leaf of ``agno_nb.storage``: it imports no store, so every store (``duckdb.py``, a
Postgres store) and every caller can import it. A store implements it from this module
alone; callers never probe a store for more (``getattr``), they use these methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import timedelta

    from agno_nb.approvals import ApprovalRequest
    from agno_nb.run import RunOutput
    from agno_nb.spans import SpanRow

__all__ = ["SessionRecord", "Store"]

T = TypeVar("T")


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
    def path(self) -> str:
        """Where the data is: a database file's absolute path, ``":memory:"``, or (a server
        database) a URL-like description without credentials; for messages and locks."""
        ...

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

    def get_run(self, run_id: str) -> RunOutput | None:
        """The run, or None; a paused run comes with the approvals its pending calls wait
        for (``run.approvals``), or raises ``RunStateError`` naming it if their rows are
        missing."""
        ...

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
        """Persist a paused run and its new approvals in one transaction, committed when
        this returns (a crash leaves the whole pause or none of it); a save of the run
        queued before it does not overwrite it."""
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

    # -- spans, and features built on the store's tables ---------------------------------

    def record_spans(self, rows: list[SpanRow]) -> None:
        """Queue finished spans (``agno_nb.spans`` rows, scrubbed already) for writing;
        written soon after, in batches, and before any later read of this process."""
        ...

    def call(self, fn: Callable[[Any], T], *, parallel: bool = False) -> T:
        """Run ``fn(con)`` with a DB-API-like connection in one transaction, after every
        job of this process queued before it, and return its result (materialised data,
        not a cursor); if ``fn`` raises, the transaction is rolled back and the exception
        raised here. ``con.execute(sql, params)`` takes the store's SQL dialect (DuckDB's
        ``DuckDBPyConnection`` for the DuckDB store). For reads over the tables (analytics,
        the traces API) and for tests; writes of sessions and runs go through ``save_run``.
        ``parallel``: a hint that the job scans much (a store may give it more cores)."""
        ...

    def warm_up(self) -> None:
        """Do now what the first runs would otherwise pay for (imports, opening the
        database, marking failed the runs a dead process left ``running``); a service
        calls it at start-up. A store with nothing to prepare does nothing."""
        ...

    def flush(self) -> None:
        """Wait until every queued write (runs and spans) is committed."""
        ...

    def close(self) -> None:
        """Commit what is queued and let the database go (idempotent)."""
        ...
