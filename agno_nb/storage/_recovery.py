"""Runs whose process died: found when a store opens the file, and marked failed.

Each run row records its ``owner``, the process that started it (``host:pid:start``,
where ``start`` is the process's start time in clock ticks, so a reused pid is not
mistaken for the original process), and a continued run its ``lease_owner``. When a store
attaches the file (the first time, then at most once a minute) it looks at the runs still
``running``: one whose owner is a process of this host that no longer exists, or whose
continuation lease has expired (the only test for runs of other hosts), is set to
``failed`` with ``error_type`` ``RunAbandonedError``, and its trace gets its root span
(status ERROR), so analytics see a failed run rather than one running forever.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agno_nb._scrub import current
from agno_nb.spans import new_span_id, ns_of
from agno_nb.storage._spans import insert_spans

if TYPE_CHECKING:
    import duckdb

__all__ = ["Recovery", "is_dead", "process_owner", "recover_abandoned_runs"]

logger = logging.getLogger("agno_nb.storage")

_HOST = socket.gethostname()
_INTERVAL = 60.0


def _start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


_OWNER = f"{_HOST}:{os.getpid()}:{_start_ticks(os.getpid()) or 'r' + uuid.uuid4().hex[:8]}"


def process_owner() -> str:
    """This process as a run owner: ``host:pid:start``."""
    return _OWNER


def is_dead(owner: str | None) -> bool:
    """Whether ``owner`` is a process of this host that is gone (False when unsure)."""
    if not owner:
        return False
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != _HOST or not parts[1].isdigit():
        return False
    pid, start = int(parts[1]), parts[2]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    if start.isdigit():  # the pid may have been reused by a newer process
        now = _start_ticks(pid)
        return now is not None and now != start
    return False


_RUNNING = (
    "SELECT run_id, owner, lease_owner, lease_expires_at, trace_id, root_span_id, session_id, "
    "user_id, agent_id, agent_name, created_at, input FROM runs WHERE status = 'running'"
)
_FAIL = (
    "UPDATE runs SET status = 'failed', error = ?, error_type = 'RunAbandonedError', "
    "finished_at = ?, updated_at = ?, duration_ms = ? WHERE run_id = ? AND status = 'running'"
)


def recover_abandoned_runs(con: duckdb.DuckDBPyConnection, now: datetime) -> list[str]:
    """Mark the abandoned ``running`` runs failed (in the caller's transaction)."""
    failed: list[str] = []
    spans = []
    for row in con.execute(_RUNNING).fetchall():
        run_id, owner, lease_owner, lease_expires, trace_id, root, *ids = row
        session_id, user_id, agent_id, agent_name, created_at, prompt = ids
        holder = lease_owner or owner
        if is_dead(holder):
            error = f"the process {holder} running this run died before it finished"
        elif lease_owner and lease_expires is not None and lease_expires <= now:
            error = f"the lease of {lease_owner}, continuing this run, expired at {lease_expires}"
        else:
            continue
        error += f" (found by {_OWNER} at {now:%Y-%m-%d %H:%M:%S %Z})"
        duration = (now - created_at).total_seconds() * 1000
        con.execute(_FAIL, [error, now, now, duration, run_id])
        failed.append(run_id)
        if trace_id:
            start = ns_of(created_at)
            spans.append((
                trace_id, root or new_span_id(), None, f"invoke_agent {agent_name}", "AGENT",
                start, max(start, ns_of(now)), "ERROR", error, run_id, session_id, user_id,
                agent_id, None, None, None, None, None, None, None, None, None,
                prompt and current().text(prompt), None,
                "RunAbandonedError", None,
            ))  # fmt: skip
    insert_spans(con, spans)
    return failed


class Recovery:
    """The attach hook of a store: recover at the first attach, then at most once a minute."""

    def __init__(self) -> None:
        self._last = float("-inf")
        self.recovered: list[str] = []

    def on_attach(self, con: duckdb.DuckDBPyConnection) -> None:
        if time.monotonic() - self._last < _INTERVAL:
            return
        self._last = time.monotonic()
        con.begin()
        try:
            found = recover_abandoned_runs(con, datetime.now(UTC))
            con.commit()
        except Exception:  # never let recovery stop the store from working
            con.rollback()
            logger.exception("marking abandoned runs as failed failed")
            return
        if found:
            logger.warning("marked %d abandoned run(s) as failed: %s", len(found), found)
            self.recovered.extend(found)
