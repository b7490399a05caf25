"""``agno-nb serve DIR`` or ``agno-nb serve module:agent``: run a service with uvicorn.

* ``DIR``: a folder with an ``app.py`` defining ``app`` (what ``agno-nb export`` writes);
* ``module:name``: a FastAPI app, an ``Agent`` or a list of agents (an app is built
  around them with ``create_app``; the store is the agents' ``db`` or ``--db``).

The checks that must hold before anyone connects run in the app's start-up, in every
worker: no auth on a non-loopback host is refused unless ``--insecure``
(``AGNO_NB_SERVE_HOST`` / ``AGNO_NB_INSECURE`` carry the options to the workers); a
second worker on one DuckDB file fails with a message saying that Postgres is needed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agno_nb.exceptions import ConfigError

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["add_serve_arguments", "app_from_env", "resolve_target", "serve_main"]

TARGET_ENV = "AGNO_NB_SERVE_TARGET"
HOST_ENV = "AGNO_NB_SERVE_HOST"
INSECURE_ENV = "AGNO_NB_INSECURE"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", help="an exported folder (with app.py), or module:agent")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7777, help="port (default 7777)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1)")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="serve without auth on a non-loopback host (something in front authenticates)",
    )
    parser.add_argument("--db", help="the store for module:agent targets (sets AGNO_NB_DB)")
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")


def resolve_target(target: str) -> tuple[str, str | None, bool]:
    """``(import string, app dir, is factory)`` for uvicorn."""
    path = Path(target)
    if path.is_dir():
        if not (path / "app.py").is_file():
            raise ConfigError(f"{target} has no app.py: export an agent into it first")
        return "app:app", str(path.resolve()), False
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ConfigError(f"{target!r} is neither a folder nor module:name (say, agent:support)")
    value = _load(target, os.getcwd())
    if _is_asgi_app(value):
        return target, os.getcwd(), False
    return f"{__name__}:app_from_env", os.getcwd(), True


def _load(target: str, app_dir: str) -> Any:
    module, _, attr = target.partition(":")
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    try:
        value: Any = importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module!r} for {target!r}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(value, part):
            raise ConfigError(f"{module!r} has no attribute {attr!r}")
        value = getattr(value, part)
    return value


def _is_asgi_app(value: Any) -> bool:
    from agno_nb.agent import Agent

    if isinstance(value, Agent) or (
        isinstance(value, list | tuple) and value and all(isinstance(v, Agent) for v in value)
    ):
        return False
    if callable(value):
        return True
    raise ConfigError(f"{type(value).__name__} is not an Agent, a list of agents or an ASGI app")


def app_from_env() -> FastAPI:
    """The uvicorn factory for ``module:agent`` targets (in each worker)."""
    from agno_nb.agent import Agent
    from agno_nb.runtime.app import create_app

    target = os.environ[TARGET_ENV]
    value = _load(target, os.getcwd())
    agents = [value] if isinstance(value, Agent) else list(value)
    title = target.partition(":")[2]
    return create_app(agents, db=os.environ.get("AGNO_NB_DB"), title=title, tune_gc=True)


def serve_main(args: argparse.Namespace) -> int:
    """Run the service in the foreground until interrupted; 2 on a configuration error."""
    import uvicorn

    if args.workers < 1:
        print("agno-nb serve: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.db:
        os.environ["AGNO_NB_DB"] = os.path.abspath(args.db)
    os.environ[HOST_ENV] = args.host
    if args.insecure:
        os.environ[INSECURE_ENV] = "1"
    try:
        app, app_dir, factory = resolve_target(args.target)
    except ConfigError as exc:
        print(f"agno-nb serve: {exc}", file=sys.stderr)
        return 2
    if factory:
        os.environ[TARGET_ENV] = args.target
    try:
        uvicorn.run(
            app, host=args.host, port=args.port, workers=args.workers, app_dir=app_dir,
            factory=factory, log_level=args.log_level, timeout_graceful_shutdown=5,
        )  # fmt: skip
    except SystemExit as exc:  # uvicorn exits 3 when the app fails to start
        return exc.code if isinstance(exc.code, int) else 1
    return 0
