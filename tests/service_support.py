"""Helpers for the service tests: an app in process, a real uvicorn in a subprocess, SSE.

``ServiceProcess`` runs ``python -m uvicorn app:app`` from a folder (an exported service)
on a free loopback port, with its output in a log file that the tests read (no secret
may ever show there).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2

from agno_nb.testing import RecordedRequest, Turn

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"key-bob-0123456789": "bob", "key-ana-0123456789": "ana:approver",
        "key-root-0123456789": "root:admin", "key-carl-0123456789": "carl"}  # fmt: skip
BOB, ANA, ROOT_KEY, CARL = (f"Bearer {k}" for k in KEYS)
KEYS_ENV = ";".join(f"{k}={v}" for k, v in KEYS.items())


def as_user(bearer: str) -> dict[str, str]:
    return {"Authorization": bearer}


def support_story(request: RecordedRequest) -> Turn:
    """The quickstart story: look the order up, ask for a refund, then answer."""
    last = request.messages[-1]["content"]
    results = [b for b in last if isinstance(b, dict) and b.get("type") == "tool_result"]
    if not results:
        return Turn.tool_call("lookup_order", {"order_id": "42"})
    if "delivered" in str(results[0]["content"]):
        return Turn.tool_call("refund", {"order_id": "42", "amount": 30.0})
    return Turn.text(f"Done: {results[0]['content']}.")


def sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``(event name, data)`` of each message of an SSE body; checks they agree."""
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        data = json.loads(lines["data"])
        assert data["event"] == lines["event"], block
        events.append((lines["event"], data))
    return events


@asynccontextmanager
async def client_for(app: Any, *, raise_errors: bool = True) -> AsyncIterator[httpx2.AsyncClient]:
    """An HTTP client bound to ``app`` in process, its lifespan running (``raise_errors``
    false: an exception in the app is the 500 a server would answer, not raised here)."""
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app, raise_app_exceptions=raise_errors)
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """``python -m uvicorn app:app`` in ``folder``, on 127.0.0.1 (restartable)."""

    def __init__(self, folder: Path, env: dict[str, str], log: Path, *args: str) -> None:
        self.folder, self.env, self.log, self.args = folder, env, log, args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        command = [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1",
                   "--port", str(self.port), *self.args]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=self.folder, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited:\n{self.log.read_text()}")
            try:
                if httpx2.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx2.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"the service did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def service_env(**extra: str) -> dict[str, str]:
    """The environment of a service subprocess: this interpreter's agno-nb importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGNO_NB_", "ANTHROPIC_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env
