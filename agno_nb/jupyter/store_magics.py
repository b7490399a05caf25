"""The companion magics: what is in the store.

``%agent_sessions [NAME]``, ``%agent_runs [NAME]``: DataFrames (tables without pandas).
``%agent_traces [--run ID]``: spans as a DataFrame, or a run's waterfall
(``agno_nb.analytics``). ``%agent_approvals``: an inbox widget of every pending approval.
``%%agent_sql``: DuckDB SQL over the store into a DataFrame.

Which store: ``--db PATH`` if given, else the stores of the agents in the namespace (of
agent NAME if given), else the default database (``$AGNO_NB_DB`` or ``agno_nb.duckdb``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class

from agno_nb.jupyter._ipython import (
    argument,
    cell_magic,
    line_magic,
    magic_arguments,
    parse_argstring,
)

if TYPE_CHECKING:
    from agno_nb.approvals import ApprovalRequest
    from agno_nb.jupyter._tables import View
    from agno_nb.jupyter.magics import AgentMagics
    from agno_nb.jupyter.paused import PausedRun
    from agno_nb.run import RunOutput
    from agno_nb.storage import SessionRecord, Store

__all__ = ["StoreMagics", "Table"]

T = TypeVar("T")


def _call(fn: Callable[[], T]) -> T:
    from agno_nb.exceptions import AgnoNBError

    try:
        return fn()
    except ImportError as exc:
        raise UsageError(f"{exc.name or exc} is needed: pip install 'agno-nb[analytics]'") from None
    except AgnoNBError as exc:
        raise UsageError(str(exc)) from None


def _sql(store: Store, query: str) -> Any:
    """``query`` (DuckDB SQL over runs, sessions, approvals, spans) as a DataFrame."""
    import duckdb

    from agno_nb import analytics

    try:
        return _call(lambda: analytics.sql(query, db=store))
    except duckdb.Error as exc:
        raise UsageError(f"SQL error: {exc}") from None


def _traces(
    store: Store, *, run_id: str | None, spans: bool, filters: dict[str, str | None]
) -> Any:
    """One row per trace; with ``run_id`` that run's waterfall (or its spans)."""
    from agno_nb import analytics

    if run_id is None:
        return _call(lambda: analytics.traces(store, **filters))
    if spans:
        return _call(lambda: analytics.spans(store, run=run_id))
    return _call(lambda: analytics.waterfall(run_id, store))


def _existing(path: str) -> Store:
    """The store of a database file that exists: the magics only read, so a path that
    names no file (a typo, the default database of a fresh folder) is an error, not a new
    database with its lock files."""
    import os

    from agno_nb.storage import open_store

    if path != ":memory:" and not os.path.exists(path):
        raise UsageError(
            f"no agno-nb database at {path!r}: pass --db PATH of an existing file, or run "
            "an agent first (its first run creates its database)"
        )
    return open_store(path)


class Table:
    """Rows shown as a compact HTML table (or text): what the magics return without pandas
    (``view`` as in :mod:`agno_nb.jupyter._tables`)."""

    def __init__(
        self, rows: Sequence[dict[str, Any]], title: str | None = None, view: View = "wide"
    ) -> None:
        self.rows, self.title, self.view = list(rows), title, view

    def __len__(self) -> int:
        return len(self.rows)

    def _caption(self) -> str:
        from agno_nb.jupyter._tables import caption_of

        return caption_of(self.view, len(self.rows), self.title or "rows")

    def _repr_html_(self) -> str:
        from agno_nb.jupyter._tables import table_html

        return table_html(self.view, self.rows, self._caption())

    def __repr__(self) -> str:
        from agno_nb.jupyter._tables import table_text

        if not self.rows:
            return f"{self.title or 'table'}: no rows"
        return table_text(self.view, self.rows, self._caption())


def frame(rows: list[dict[str, Any]], columns: list[str], title: str, view: View = "wide") -> Any:
    """A pandas DataFrame of ``rows`` (shown in ``view``) when pandas is installed, else a
    ``Table``."""
    try:
        import pandas as pd
    except ImportError:
        return Table(rows, title, view)
    from agno_nb.jupyter._tables import view_frame

    return view_frame(pd.DataFrame(rows, columns=columns), view, title)


def _session_row(s: SessionRecord, current: set[str]) -> dict[str, Any]:
    return {
        "session_id": s.session_id, "agent_id": s.agent_id, "user_id": s.user_id,
        "created_at": s.created_at, "updated_at": s.updated_at,
        "current": s.session_id in current,
    }  # fmt: skip


def _run_row(r: RunOutput) -> dict[str, Any]:
    from agno_nb.jupyter.display import cost_of

    content = r.content
    if hasattr(content, "model_dump"):
        content = content.model_dump(mode="json")
    return {
        "run_id": r.run_id, "agent_id": r.agent_id, "agent_name": r.agent_name,
        "session_id": r.session_id, "user_id": r.user_id, "status": str(r.status),
        "model": r.model, "input": r.input, "content": content,
        "tool_calls": len(r.tool_calls), "input_tokens": r.usage.input_tokens,
        "output_tokens": r.usage.output_tokens, "cost_usd": cost_of(r.model, r.usage),
        "duration_ms": r.duration_ms, "created_at": r.created_at,
        "finished_at": r.finished_at, "error_type": r.error_type, "error": r.error,
        "trace_id": r.trace_id,
    }  # fmt: skip


_SESSION_COLUMNS = ["session_id", "agent_id", "user_id", "created_at", "updated_at", "current"]
_RUN_COLUMNS = [
    "run_id", "agent_id", "agent_name", "session_id", "user_id", "status", "model", "input",
    "content", "tool_calls", "input_tokens", "output_tokens", "cost_usd", "duration_ms",
    "created_at", "finished_at", "error_type", "error", "trace_id",
]  # fmt: skip


@magics_class
class StoreMagics(Magics):
    """Sessions, runs, traces, approvals and SQL of the agents' stores."""

    def __init__(self, shell: Any = None, *, main: AgentMagics) -> None:
        super().__init__(shell)
        self.main = main

    @property
    def user_ns(self) -> dict[str, Any]:
        assert self.shell is not None
        ns: dict[str, Any] = self.shell.user_ns
        return ns

    def stores(self, name: str | None, db: str | None) -> list[Store]:
        from agno_nb.jupyter import _warm
        from agno_nb.jupyter._ipython import agent_names
        from agno_nb.storage import default_db

        _warm.wait(10)  # a store being opened in the background: one opening, not two

        if db:
            return [_existing(db)]
        names = [name] if name else agent_names(self.user_ns)
        found: list[Store] = []
        for each in names:
            store = self.main.find_agent(each).store
            if store is not None and all(store is not s for s in found):
                found.append(store)
        return found or [_existing(default_db())]

    def _agent_id(self, name: str | None) -> str | None:
        return self.main.find_agent(name).id if name else None

    def _out(self, args: Any, value: Any) -> Any:
        if getattr(args, "output", None):
            self.user_ns[args.output] = value
        return value

    @magic_arguments()
    @argument("name", nargs="?", help="only this agent's sessions")
    @argument("-u", "--user", help="only this user's sessions")
    @argument("-l", "--limit", type=int, default=100)
    @argument("--db", help="a DuckDB file (default: the agents' stores)")
    @argument("--wide", action="store_true", help="every column (default: a compact table)")
    @argument("-o", "--output", metavar="VAR", help="also store the table in VAR")
    @line_magic
    def agent_sessions(self, line: str) -> Any:
        """Sessions, newest first, as a DataFrame (current marks this kernel's current
        sessions), shown as a compact table (--wide: every column).

        Examples:
          %agent_sessions
          %agent_sessions support -u ana -o sessions
        """
        args = parse_argstring(self.agent_sessions, line)
        agent_id = self._agent_id(args.name)
        current = set(self.main.sessions.values())
        rows = [
            _session_row(s, current)
            for store in self.stores(args.name, args.db)
            for s in store.list_sessions(user_id=args.user, agent_id=agent_id, limit=args.limit)
        ]
        rows.sort(key=lambda r: r["updated_at"], reverse=True)
        view: View = "wide" if args.wide else "sessions"
        return self._out(args, frame(rows, _SESSION_COLUMNS, "sessions", view))

    @magic_arguments()
    @argument("name", nargs="?", help="only this agent's runs")
    @argument("-s", "--session", help="only this session's runs")
    @argument("-u", "--user", help="only this user's runs")
    @argument("--status", help="running, paused, completed, failed or cancelled")
    @argument("-l", "--limit", type=int, default=100)
    @argument("--db", help="a DuckDB file (default: the agents' stores)")
    @argument("--wide", action="store_true", help="every column (default: a compact table)")
    @argument("-o", "--output", metavar="VAR", help="also store the table in VAR")
    @line_magic
    def agent_runs(self, line: str) -> Any:
        """Runs, newest first, as a DataFrame of full values, shown as a compact table:
        status, short ids (the full id on hover), input and output on one line, tool
        calls, tokens, cost, duration, age (--wide: every column).

        Examples:
          %agent_runs
          %agent_runs support --status paused -l 20
          %agent_runs -s SESSION_ID --wide -o runs
        """
        args = parse_argstring(self.agent_runs, line)
        filters = {
            "session_id": args.session, "user_id": args.user, "status": args.status,
            "agent_id": self._agent_id(args.name), "limit": args.limit,
        }  # fmt: skip
        rows = [
            _run_row(r)
            for store in self.stores(args.name, args.db)
            for r in store.list_runs(**filters)
        ]
        rows.sort(key=lambda r: r["created_at"], reverse=True)
        return self._out(args, frame(rows, _RUN_COLUMNS, "runs", "wide" if args.wide else "runs"))

    @magic_arguments()
    @argument("name", nargs="?", help="only this agent's traces")
    @argument("--run", metavar="ID", help="this run's waterfall (see %%agent_runs)")
    @argument("--spans", action="store_true", help="with --run: its spans as a DataFrame")
    @argument("-s", "--session", help="only this session's traces")
    @argument("-u", "--user", help="only this user's traces")
    @argument("--db", help="a DuckDB file (default: the agents' stores)")
    @argument("--wide", action="store_true", help="every column (default: a compact table)")
    @argument("-o", "--output", metavar="VAR", help="also store the result in VAR")
    @line_magic
    def agent_traces(self, line: str) -> Any:
        """One row per trace (run), newest first, with spans, time, approval waits, tokens
        and cost, shown as a compact table (--wide: every column); with --run ID the
        run's waterfall (--spans: its spans). Needs pandas and matplotlib (the analytics
        extra).

        Examples:
          %agent_traces
          %agent_traces --run {out.run_id}
          %agent_traces --run RUN_ID --spans -o spans
        """

        args = parse_argstring(self.agent_traces, line)
        filters = {"agent": self._agent_id(args.name), "session": args.session,
                   "user": args.user}  # fmt: skip
        store = self.stores(args.name, args.db)[0]
        found = _traces(store, run_id=args.run, spans=args.spans, filters=filters)
        if args.run is None:
            from agno_nb.jupyter._tables import view_frame

            found = found.sort_values("start_time", ascending=False, ignore_index=True)
            found = view_frame(found, "wide" if args.wide else "traces", "traces")
        return self._out(args, found)

    @magic_arguments()
    @argument("--db", help="a DuckDB file (default: the agents' stores)")
    @line_magic
    def agent_approvals(self, line: str) -> Any:
        """An inbox of every pending approval in the stores, decided in place; a run
        whose agent is defined here continues here once all its approvals are decided.

        Examples:
          %agent_approvals
          %agent_approvals --db agents.duckdb
        """
        args = parse_argstring(self.agent_approvals, line)
        stores = self.stores(None, args.db)
        if not self.main.rich:
            from agno_nb.desk import ApprovalDesk
            from agno_nb.jupyter._render import approval_text

            pending = [a for s in stores for a in ApprovalDesk(s).list(status="pending")]
            print("\n".join(approval_text(a) for a in pending) or "no pending approvals")
            return None
        import ipywidgets  # type: ignore[import-untyped,unused-ignore]

        from agno_nb.jupyter.widgets import ApprovalInbox

        output = ipywidgets.Output()
        return ApprovalInbox(lambda: self._paused_runs(stores, output), output)

    def _paused_runs(self, stores: list[Store], output: Any) -> list[PausedRun]:
        """The paused runs with pending approvals: this kernel's own (their continuation
        goes to their cell), others with a new ``PausedRun`` continuing into ``output``."""
        from agno_nb.desk import ApprovalDesk
        from agno_nb.jupyter.paused import PausedRun

        runs: list[PausedRun] = []
        for store in stores:
            by_run: dict[str, list[ApprovalRequest]] = defaultdict(list)
            for approval in ApprovalDesk(store).list(status="pending"):
                by_run[approval.run_id].append(approval)
            for run_id, approvals in by_run.items():
                paused = PausedRun.registry.get(run_id)
                if paused is None or paused.state != "waiting":
                    paused = self._inbox_run(store, approvals, output)
                runs.append(paused)
        return runs

    def _inbox_run(self, store: Store, approvals: list[ApprovalRequest], output: Any) -> PausedRun:
        from agno_nb.agent import Agent
        from agno_nb.jupyter.display import OutputSink, RunView
        from agno_nb.jupyter.paused import PausedRun

        main, agent_id = self.main, approvals[0].agent_id
        agent = next(
            (
                a
                for a in self.user_ns.values()
                if isinstance(a, Agent) and a.id == agent_id and a.store is store
            ),
            None,
        )

        def view() -> RunView:
            return RunView(
                OutputSink(output),
                interval=main.update_interval,
                on_pause=None if agent is None
                else lambda run, parent: main.pause_block(agent, run, None, parent),
            )  # fmt: skip

        paused = PausedRun(
            approvals[0].run_id, store, approvals, agent=agent, principal=main.principal,
            make_view=view, poll_interval=main.poll_interval,
        )  # fmt: skip
        paused.start_polling()
        return paused

    @magic_arguments()
    @argument("--db", help="a DuckDB file (default: the agents' stores)")
    @argument("-o", "--output", metavar="VAR", help="also store the DataFrame in VAR")
    @cell_magic
    def agent_sql(self, line: str, cell: str) -> Any:
        """DuckDB SQL over the store into a DataFrame: tables runs, sessions, approvals,
        approval_events and spans (view openinference_spans).

        Example:
          %%agent_sql
          SELECT status, count(*) FROM runs GROUP BY status
        """

        args = parse_argstring(self.agent_sql, line)
        store = self.stores(None, args.db)[0]
        return self._out(args, _sql(store, cell))
