"""Warming up in the background, so that a kernel's first ``%agent`` cell is as fast as
the next ones.

Loading the extension in a kernel (``%load_ext agno_nb``, or the kernelspec) starts one
daemon thread that imports what a run needs (anthropic and its httpx2 client with an SSL
context, pydantic, duckdb, pyarrow and pandas for the store's writes, agno-nb's run path
and display) and starts agno-nb's background event loop: 2-3 s of work that the first run
paid before. After each cell, the models of agents new in the namespace build their SDK
client on that loop, and their stores open (unless that would create a file), while the
user types the next cell.

Loading never waits for any of it, and nothing here can fail a load or a cell: errors are
kept in ``errors`` and the run does the work itself. A run that starts while the warm-up is
under way waits for the part it needs before its first token (``ready``: the imports, the
agents' clients and stores, not pandas): it would need the same imports, and doing them
in one thread avoids two threads importing the same modules at once.

``AGNO_NB_WARM_UP=0`` turns it off; ``=1`` turns it on outside a kernel too (a plain
IPython shell, a test), where it is off by default.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["MODULES", "errors", "ready", "start", "stop", "wait"]

#: what a run imports before its first token, in this order: the heaviest first (pyarrow:
#: the store's thread imports it before it serves its first read), then agno-nb's run path
#: and display; pandas, which only the store's first write needs, comes last
MODULES = (
    "anthropic", "httpx2", "pydantic", "duckdb", "pyarrow", "agno_nb.agent",
    "agno_nb.models.anthropic", "agno_nb._loop", "agno_nb._calls", "agno_nb._runspec",
    "agno_nb.tools", "agno_nb.tracing", "agno_nb.pricing", "agno_nb.storage.duckdb",
    "agno_nb.jupyter.display", "agno_nb.jupyter._pump",
)  # fmt: skip

errors: list[str] = []  #: what went wrong, for whoever wonders (never raised)
seconds: dict[str, float] = {}  #: how long each kind of job took, in total

#: (priority, order, name, job): 0 for what the first token needs, 1 for the rest
_jobs: queue.PriorityQueue[tuple[int, int, str, Callable[[], object]]] = queue.PriorityQueue()
_idle = threading.Event()  # no job queued or running
_idle.set()
_urgent_done = threading.Event()  # no priority-0 job queued or running
_urgent_done.set()
_lock = threading.Lock()
_queued = [0, 0]  # jobs queued or running, by priority
_order = 0
_thread: threading.Thread | None = None
_warmed: weakref.WeakSet[Any] = weakref.WeakSet()  # models whose client is built
_done: dict[int, Any] = {}  # id(agent) -> the model it was warmed with
_failed: set[int] = set()  # ids of agents whose model could not be resolved: not again
_hooks: dict[int, Callable[..., None]] = {}


def _enabled(ipython: Any) -> bool:
    flag = os.environ.get("AGNO_NB_WARM_UP", "").strip().lower()
    if flag in ("0", "false", "no", "off"):
        return False
    return flag in ("1", "true", "yes", "on") or getattr(ipython, "kernel", None) is not None


def start(ipython: Any) -> None:
    """Start warming up (see the module docstring); returns at once, never raises."""
    try:
        if not _enabled(ipython) or id(ipython) in _hooks:
            return
        _submit("imports", _imports)
        _submit("writes", _writes, priority=1)
        hook = _after_cell(ipython)
        ipython.events.register("post_run_cell", hook)
        _hooks[id(ipython)] = hook
    except Exception as exc:  # pragma: no cover - a load must not fail for this
        errors.append(f"start: {exc!r}")


def stop(ipython: Any) -> None:
    """Stop warming the agents of ``ipython``'s cells (the extension is unloaded)."""
    hook = _hooks.pop(id(ipython), None)
    if hook is not None:
        with contextlib.suppress(ValueError):  # already unregistered
            ipython.events.unregister("post_run_cell", hook)


def wait(timeout: float | None = 60.0) -> bool:
    """Block until the warm-up under way (if any) is done; False on timeout."""
    return _idle.wait(timeout)


async def ready(timeout: float = 60.0) -> None:
    """Wait, without blocking the running loop, for the warm-up of what a run needs before
    its first token (the imports of the run path, the agents' clients and stores)."""
    import asyncio

    if not _urgent_done.is_set():
        await asyncio.get_running_loop().run_in_executor(None, _urgent_done.wait, timeout)


def _submit(name: str, job: Callable[[], object], priority: int = 0) -> None:
    global _order, _thread
    with _lock:
        _queued[priority] += 1
        _order += 1
        _idle.clear()
        if priority == 0:
            _urgent_done.clear()
        _jobs.put((priority, _order, name, job))
        if _thread is None:
            _thread = threading.Thread(target=_work, name="agno-nb-warm-up", daemon=True)
            _thread.start()


def _work() -> None:
    while True:
        priority, _, name, job = _jobs.get()
        started = time.perf_counter()
        try:
            job()
        except BaseException as exc:  # whatever it is: the run does the work itself
            errors.append(f"{name}: {exc!r}")
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
        with _lock:
            _queued[priority] -= 1
            if _queued[0] == 0:
                _urgent_done.set()
            if _queued == [0, 0]:
                _idle.set()


def _imports() -> None:
    """What the first run would import and build, done now."""
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # an optional part (pyarrow) may be missing
            errors.append(f"import {name}: {exc!r}")
    import anthropic

    # the SDK's lazily imported resources, and an SSL context (certificates read once)
    client = anthropic.AsyncAnthropic(api_key="warm-up", base_url="http://127.0.0.1:9")
    client.messages.with_streaming_response  # noqa: B018
    from agno_nb._portal import _portal

    _portal()  # the loop every run executes on


def _writes() -> None:
    """What the store's first write imports: pandas, which pyarrow's first conversion
    imports (after the first token, but better not during the answer)."""
    from agno_nb.storage._arrow import warm_up

    warm_up()


def _after_cell(ipython: Any) -> Callable[..., None]:
    def hook(*_: Any) -> None:
        """After each cell: warm the models of agents new in the namespace."""
        agent_module = sys.modules.get("agno_nb.agent")
        if agent_module is None:  # no agent can exist yet
            return
        agent_class = agent_module.Agent
        try:
            agents = [v for v in list(ipython.user_ns.values()) if isinstance(v, agent_class)]
        except Exception:  # pragma: no cover - a namespace that cannot be read now
            return
        fresh = [a for a in agents if _fresh(a)]
        if fresh:
            _submit("agents", functools.partial(_warm_agents, fresh))

    return hook


def _opens_nothing_new(agent: Any) -> bool:
    """Whether opening the agent's store now creates no file: it is in memory, already a
    ``Store``, or a DuckDB file that exists."""
    from agno_nb.storage import Store, default_db

    db = agent.db
    if db is False:
        return False
    if db is None or db == ":memory:" or isinstance(db, Store):
        return True
    path = db if isinstance(db, str | os.PathLike) else default_db()  # else: the default
    return os.path.exists(path)


def _fresh(agent: Any) -> bool:
    """Whether ``agent`` still needs warming: new, or given another model since."""
    if id(agent) in _failed:
        return False
    return agent._model is None or _done.get(id(agent)) is not agent._model


def _warm_agents(agents: list[Any]) -> None:
    """Resolve each agent's model and tools, build its SDK client on the run loop, and
    open its store when that creates no file."""
    import asyncio

    from agno_nb._portal import _portal

    for agent in agents:
        try:
            try:
                model = agent.model
            except Exception:
                _failed.add(id(agent))
                raise
            if not _fresh(agent):  # submitted twice before it ran
                continue
            _done[id(agent)] = model
            if not agent.toolsets:
                agent.tool_definitions  # noqa: B018 - the tools' JSON schemas
            if model not in _warmed:  # agents may share a model object
                _warmed.add(model)
                asyncio.run_coroutine_threadsafe(model.warm_up(), _portal()).result(timeout=30)
            if _opens_nothing_new(agent):
                agent.store.call(lambda con: None)  # opens the file: schema, recovery
        except Exception as exc:  # a bad model string fails its first run, as it would
            errors.append(f"agent {getattr(agent, 'name', '?')}: {exc!r}")
