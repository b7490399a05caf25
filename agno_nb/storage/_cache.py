"""The per-process cache of a store: sessions, and the recent completed runs of each
(session, user), so that a run's ``claim_session`` and ``history`` need no database trip.

It is exact only while this process holds the database file, because then nobody else
can write it: the store thread fills it from queries it runs while attached, and calls
``invalidate`` before it lets the file go (and after a failed write). Callers apply their
own saves eagerly (``saving``), so the next ``history`` sees a run whose write is still
queued; ``pending`` keeps those runs until their write job runs, and ``load_history``
merges them into what the database returned, so a fill never loses a queued save.

The objects handed out are shared with the cache: treat them as read-only.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agno_nb.run import RunOutput
    from agno_nb.storage.protocol import SessionRecord

__all__ = ["HISTORY_CAP", "RunCache"]

HISTORY_CAP = 50
"""Completed runs kept per (session, user); ``history(limit)`` above it queries."""

_COMPLETED = "completed"


def _order(run: RunOutput) -> tuple[datetime, str]:
    return (run.created_at, run.run_id)


@dataclass(slots=True)
class _History:
    """The newest completed runs of one (session, user), oldest first.

    ``truncated`` means older completed runs exist that are not kept here.
    """

    runs: list[RunOutput] = field(default_factory=list)
    truncated: bool = False


class RunCache:
    """Sessions (LRU) and per-(session, user) histories (LRU), guarded by one lock."""

    def __init__(self, *, max_sessions: int = 1000, max_histories: int = 256) -> None:
        self._lock = threading.Lock()
        self._max_sessions = max_sessions
        self._max_histories = max_histories
        self._sessions: OrderedDict[str, SessionRecord] = OrderedDict()
        self._histories: OrderedDict[tuple[str, str], _History] = OrderedDict()
        self._pending: dict[str, tuple[int, RunOutput]] = {}
        self._tokens = itertools.count()

    def session(self, session_id: str) -> SessionRecord | None:
        with self._lock:
            record = self._sessions.get(session_id)
            if record is not None:
                self._sessions.move_to_end(session_id)
            return record

    def put_session(self, record: SessionRecord) -> None:
        """Remember a session read or created by the store thread."""
        with self._lock:
            self._sessions[record.session_id] = record
            self._sessions.move_to_end(record.session_id)
            if len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)

    def history(self, session_id: str, user_id: str, limit: int) -> list[RunOutput] | None:
        """The last ``limit`` completed runs, oldest first; None if the cache cannot say."""
        if limit > HISTORY_CAP:
            return None
        with self._lock:
            entry = self._histories.get((session_id, user_id))
            if entry is None or (entry.truncated and limit > len(entry.runs)):
                return None
            self._histories.move_to_end((session_id, user_id))
            return entry.runs[-limit:] if limit > 0 else []

    def load_history(self, session_id: str, user_id: str, newest: list[RunOutput]) -> None:
        """Fill from the database: ``newest`` are its last ``HISTORY_CAP`` completed runs
        (oldest first), to which the saves still queued are added."""
        entry = _History(list(newest), truncated=len(newest) >= HISTORY_CAP)
        with self._lock:
            for _, run in self._pending.values():
                mine = run.session_id == session_id and run.user_id == user_id
                if mine and not self._apply(entry, run):
                    return
            self._histories[(session_id, user_id)] = entry
            self._histories.move_to_end((session_id, user_id))
            if len(self._histories) > self._max_histories:
                self._histories.popitem(last=False)

    def saving(self, run: RunOutput) -> int:
        """A save of ``run`` is being queued: apply it to the cache at once.

        Returns the token that its write job passes to ``written``.
        """
        with self._lock:
            token = next(self._tokens)
            self._pending[run.run_id] = (token, run)
            entry = self._histories.get((run.session_id, run.user_id))
            if entry is not None and not self._apply(entry, run):
                del self._histories[(run.session_id, run.user_id)]
            record = self._sessions.get(run.session_id)
            if record is not None and run.updated_at > record.updated_at:
                record.updated_at = run.updated_at
            return token

    def written(self, run_id: str, token: int) -> None:
        """The write job of save ``token`` runs now (unless a later save of the run is
        queued, the run is no longer only in the queue)."""
        with self._lock:
            pending = self._pending.get(run_id)
            if pending is not None and pending[0] == token:
                del self._pending[run_id]

    def invalidate(self) -> None:
        """Forget everything read from the database (queued saves stay pending)."""
        with self._lock:
            self._sessions.clear()
            self._histories.clear()

    @staticmethod
    def _apply(entry: _History, run: RunOutput) -> bool:
        """Put ``run`` in (or take it out of) ``entry``; False if the entry became unsure."""
        runs = entry.runs
        for index, cached in enumerate(runs):
            if cached.run_id == run.run_id:
                del runs[index]
                if run.status != _COMPLETED and entry.truncated:
                    return False
                break
        if run.status == _COMPLETED:
            bisect.insort(runs, run, key=_order)
            if len(runs) > HISTORY_CAP:
                del runs[0]
                entry.truncated = True
        return True
