"""Persistence: the ``Store`` protocol (``storage.protocol``) and ``open_store``.

A store keeps sessions and runs (and, with the approvals and tracing features, approvals
and spans). The DuckDB store is the embedded default; ``db=None`` means an in-memory
DuckDB; ``db=False`` means no store at all (no history, and runs cannot pause).
"""

from __future__ import annotations

import os

from agno_nb.storage.protocol import SessionRecord, Store

__all__ = ["DEFAULT_DB", "SessionRecord", "Store", "default_db", "open_store"]

DEFAULT_DB = "agno_nb.duckdb"


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
