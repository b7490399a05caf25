"""``create_app``: the FastAPI app that serves agents over an AgentOS-compatible API.

::

    from agno_nb.runtime import create_app
    app = create_app(agents=[support], db="agents.duckdb")   # auth from the environment

The app is stateless between requests: runs, sessions and approvals live in the store, so
a paused run survives a restart and continues in any process on the same store. With
DuckDB one worker serves a file (``_lock``); Postgres takes several.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from agno_nb.exceptions import (
    AgnoNBError,
    ApprovalArgumentsError,
    ApprovalDecidedError,
    ApprovalNotFoundError,
    ApprovalPermissionError,
    ConfigError,
    RunLeaseError,
    RunNotFoundError,
    RunStateError,
    SessionAccessError,
    StoreBusyError,
)
from agno_nb.runtime._lock import ServiceLock, service_lock_path
from agno_nb.runtime.auth import AuthConfig, is_loopback

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.responses import Response

    from agno_nb.agent import Agent
    from agno_nb.approvals import ApprovalRules, Principal
    from agno_nb.desk import ApprovalDesk
    from agno_nb.storage import Store

__all__ = ["DEFAULT_MAX_BODY_BYTES", "Service", "create_app"]

logger = logging.getLogger("agno_nb.runtime")
_started = logging.getLogger("uvicorn.error")  # shown where uvicorn shows its own start-up

AuthSpec = AuthConfig | str | os.PathLike[str] | Mapping[str, "Principal | str"] | Literal[False]
_DB_ID = "agno-nb-db"
_GC_YOUNG = 10_000
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
"""4 MiB: the longest ``message`` (200,000 characters) fits in any encoding, even as JSON
``\\u`` escapes of characters past the BMP (12 bytes each)."""
_STATUS: list[tuple[type[AgnoNBError], int]] = [
    (SessionAccessError, 403),
    (ApprovalPermissionError, 403),
    (RunNotFoundError, 404),
    (ApprovalNotFoundError, 404),
    (RunStateError, 409),
    (RunLeaseError, 409),
    (ApprovalDecidedError, 409),
    (ApprovalArgumentsError, 422),
    (StoreBusyError, 503),
]


@dataclass(slots=True)
class Service:
    """What the routes share: the agents by id, the store and the auth policy."""

    agents: dict[str, Agent]
    db: str | os.PathLike[str] | Store
    auth: AuthConfig
    insecure: bool = False
    title: str = "agno-nb"
    description: str | None = None
    db_id: str = _DB_ID
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    lock: ServiceLock | None = None
    _store: Store | None = None

    @property
    def owns_store(self) -> bool:
        """The service opened the store (from a path): it closes it at shut-down."""
        from agno_nb.storage import Store

        return not isinstance(self.db, Store)

    @property
    def store(self) -> Store:
        """The store, opened again (and handed to the agents) if it was closed."""
        store = self._store
        if store is None or store.closed:
            from agno_nb.storage import open_store

            store = self._store = open_store(self.db)
            for agent in self.agents.values():
                agent.use_store(store)
        return store

    @property
    def desk(self) -> ApprovalDesk:
        """The approvals desk of the store, judging each approval by its agent's rules."""
        from agno_nb.desk import ApprovalDesk

        def rules(agent_id: str) -> ApprovalRules | None:
            agent = self.agents.get(agent_id)
            return None if agent is None else agent.rules

        return ApprovalDesk(self.store, rules)

    def startup(self) -> None:
        """Refuse an exposed service without auth, then take the store's service lock."""
        self.insecure = self.insecure or os.environ.get("AGNO_NB_INSECURE") == "1"
        host = os.environ.get("AGNO_NB_SERVE_HOST") or cli_host()
        if host is not None:
            check_exposure(host, self.auth, insecure=self.insecure)
        path = service_lock_path(self.store)
        if path is not None:
            self.lock = ServiceLock(path)
            self.lock.acquire()
        self.store.warm_up()  # before the first request, not in it
        methods = [f"{len(self.auth.api_keys)} API key(s)"] if self.auth.api_keys else []
        if self.auth.jwt is not None:
            methods.append(f"JWT {self.auth.jwt.algorithm}")
        _started.info(
            "agno-nb: serving %s on %r; auth: %s; per-user isolation %s",
            ", ".join(self.agents), self.store, " + ".join(methods) or "off (loopback only)",
            "on" if self.auth.isolation else "off",
        )  # fmt: skip

    def shutdown(self) -> None:
        try:
            if self.owns_store:
                self.store.close()
            elif not self.store.closed:
                self.store.flush()
        finally:
            if self.lock is not None:
                self.lock.release()


def create_app(
    agents: Sequence[Agent],
    *,
    db: str | os.PathLike[str] | Store | None = None,
    auth: AuthSpec | None = None,
    insecure: bool = False,
    title: str = "agno-nb",
    description: str | None = None,
    tune_gc: bool = False,
    max_body_bytes: int | None = None,
) -> FastAPI:
    """The service for ``agents``.

    ``db``: the store every agent uses here (a DuckDB path, a ``Store``); default the
    agents' own ``db`` if they share one, else ``$AGNO_NB_DB`` or ``agno_nb.duckdb``.
    ``auth``: an ``AuthConfig``, an auth file path, ``{key: "user:role,role"}``, ``False``
    for none, or ``None`` to read ``AGNO_NB_AUTH_FILE`` / ``AGNO_NB_API_KEYS`` /
    ``AGNO_NB_JWT_*``. Without auth the service answers local connections only, unless
    ``insecure=True``. ``tune_gc``: once started, freeze the start-up heap and collect
    young objects less often (``_tune_gc``), for a process that serves this app alone
    (the exported ``app.py`` and ``agno-nb serve module:agent`` turn it on).
    ``max_body_bytes``: larger request bodies are refused (413); default
    ``$AGNO_NB_MAX_BODY_BYTES``, else ``DEFAULT_MAX_BODY_BYTES`` (4 MiB).
    """
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError

    from agno_nb.runtime import _body, _traces, routes_agents, routes_data

    by_id = _agents_by_id(agents)
    service = Service(
        by_id, _db_for(agents, db), _auth_from(auth), insecure=insecure, title=title,
        description=description, max_body_bytes=_max_body_from(max_body_bytes),
    )  # fmt: skip
    for agent in agents:  # the service's store replaces the agents' own (db=False too: a
        agent.db = service.db  # service run must be stored to pause, continue, be listed)
    service.store  # noqa: B018 - open it now: a bad path fails here, not on a request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from agno_nb.models.anthropic import served_clients

        try:
            service.startup()
        except ConfigError as exc:
            logger.error("agno-nb service cannot start: %s", exc)
            raise
        try:
            async with served_clients():
                for agent in service.agents.values():
                    await agent.model.warm_up()
                if tune_gc:
                    _tune_gc()
                yield
        finally:
            service.shutdown()

    app = FastAPI(
        title=title,
        description=description or "Agents served by agno-nb (AgentOS-compatible API).",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_exception_handler(AgnoNBError, _agno_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _body.invalid_request)
    app.include_router(routes_agents.router(service))
    app.include_router(routes_data.router(service))
    app.include_router(_traces.router(service))
    return app


def _tune_gc() -> None:
    """The garbage collector of a serving process, as long-running Python servers tune it.

    ``gc.freeze()`` once started: what start-up made (modules, the app, SDK clients, a
    few hundred thousand objects) leaves the collector's sight, so a full collection scans
    only what requests made, instead of pausing the event loop over everything. And a
    young collection every 10,000 net allocations instead of 700: a request's objects
    mostly die young by reference counting, so collecting less often cuts the collector's
    CPU per request (docs/service.md has the figures). Process-wide, hence
    ``create_app(tune_gc=True)`` only."""
    import gc

    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, _GC_YOUNG), middle, old)


def _version() -> str:
    from agno_nb import __version__

    return __version__


def _agents_by_id(agents: Sequence[Agent]) -> dict[str, Agent]:
    if not agents:
        raise ConfigError("create_app needs at least one agent")
    by_id: dict[str, Agent] = {}
    for agent in agents:
        if agent.id in by_id:
            raise ConfigError(f"two agents have the id {agent.id!r}: give one Agent(id=...)")
        by_id[agent.id] = agent
    return by_id


def _db_for(
    agents: Sequence[Agent], db: str | os.PathLike[str] | Store | None
) -> str | os.PathLike[str] | Store:
    """The service's db: ``db``, else the agents' own if they share one, else the default
    (``$AGNO_NB_DB`` or ``agno_nb.duckdb``)."""
    from agno_nb.storage import Store, default_db

    if db is not None:
        return db
    given = {id(a.db): a.db for a in agents if isinstance(a.db, str | os.PathLike | Store)}
    paths = {os.path.abspath(os.fspath(d)) for d in given.values() if not isinstance(d, Store)}
    if len(given) == 1 or (len(paths) == 1 and len(paths) == len(given)):
        found: str | os.PathLike[str] | Store = next(iter(given.values()))
        return found
    return default_db()


def _max_body_from(given: int | None) -> int:
    """The body limit: ``given``, else ``$AGNO_NB_MAX_BODY_BYTES``, else the default."""
    value: int | str = DEFAULT_MAX_BODY_BYTES if given is None else given
    if given is None:
        value = os.environ.get("AGNO_NB_MAX_BODY_BYTES", "").strip() or value
    limit = value if isinstance(value, int) else int(value) if value.isdigit() else 0
    if limit < 1 or isinstance(value, bool):
        raise ConfigError(
            f"max_body_bytes (AGNO_NB_MAX_BODY_BYTES) must be a number of bytes, not {value!r}"
        )
    return limit


def _auth_from(auth: AuthSpec | None) -> AuthConfig:
    if auth is None:
        return AuthConfig.from_env()
    if auth is False:
        return AuthConfig()
    if isinstance(auth, AuthConfig):
        return auth
    if isinstance(auth, str | os.PathLike):
        return AuthConfig.from_file(auth)
    return AuthConfig.from_keys(auth)


def check_exposure(host: str, auth: AuthConfig, *, insecure: bool) -> None:
    """Refuse to serve without auth on an interface other machines can reach."""
    if auth.enabled or insecure or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to serve on {host} without auth: anyone who can reach this machine could "
        "run the agents and decide approvals. Configure API keys (AGNO_NB_API_KEYS, "
        "AGNO_NB_AUTH_FILE) or JWT (AGNO_NB_JWT_SECRET / AGNO_NB_JWT_PUBLIC_KEY), bind "
        "127.0.0.1, or pass --insecure if something in front of it authenticates."
    )


def cli_host() -> str | None:
    """The ``--host`` of a ``uvicorn`` command line running this process, if any (plain
    ``uvicorn app:app`` gives the app no other way to know where it listens)."""
    argv = sys.argv
    program = os.path.normpath(argv[0]) if argv else ""
    if "uvicorn" not in (os.path.basename(program), os.path.basename(os.path.dirname(program))):
        return None
    if any(a in ("--uds", "--fd") or a.startswith(("--uds=", "--fd=")) for a in argv):
        return None
    host = os.environ.get("UVICORN_HOST", "127.0.0.1")
    for i, arg in enumerate(argv):
        if arg == "--host" and i + 1 < len(argv):
            host = argv[i + 1]
        elif arg.startswith("--host="):
            host = arg.partition("=")[2]
    return host


async def _agno_error(request: Request, exc: AgnoNBError) -> Response:
    from agno_nb.runtime.sse import json_response

    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
    if status == 500:
        logger.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    response = json_response({"detail": str(exc), "error_type": type(exc).__name__}, status)
    if status == 503:
        response.headers["Retry-After"] = "1"
    return response
