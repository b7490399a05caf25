"""Section ``service``: the HTTP service under load, beside Agno's AgentOS and a floor.

The servers, one uvicorn worker each, take turns serving the scenario's run (two model
calls and one tool call, streamed as SSE) to 20 concurrent clients of a load generator
in its own process (``bench._load``), against the fake server process at zero delay:

* agno-nb's service as exported (``create_app``: DuckDB store, tracing, an API key), the
  target's row; and the same service with clients that name a new ``session_id`` in
  every request (each one a session claim: a read and a committed one-row insert);
* Agno 3.1.10's AgentOS serving the same agent (SqliteDb), in Agno's venv;
* the floors: a bare FastAPI app making the same two SDK calls and streaming the text,
  once on the SDK's default transport (httpx2) and once on its aiohttp transport (the one
  agno-nb's service uses). The floor targets are taken against the faster of the two.

Each server is measured in ``ROUNDS`` chunks, interleaved (A B C A B C), so that drift
hits all alike; requests/s, p50 and p99 latency come from the pooled chunks, server CPU
per request from /proc (user + system time of the server process over the timed part).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from bench._context import BENCH_DIR, REPO, Context, agno_env_vars
from bench._report import Section, ms, ratio
from bench._stats import progress

CONCURRENCY = 20
ROUNDS = 4
RPS_VS_AGENTOS = 2.0
FLOOR_SHARE = 0.8
CPU_TARGET_MS = 4.0
AGENTOS_EXTRAS = ("fastapi", "uvicorn", "python-multipart")


@dataclass(slots=True)
class Server:
    label: str
    command: list[str]
    env: dict[str, str]
    cwd: Path = REPO
    key: str | None = None
    load_args: tuple[str, ...] = ()
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0
    cpu_main: float = 0.0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        cut = statistics.quantiles(sorted(self.latencies), n=100, method="inclusive")
        return cut[round(q * 100) - 1]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(server: Server, port: int) -> subprocess.Popen[bytes]:
    args = [*server.command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(args, cwd=server.cwd, env=server.env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{server.label} exited with {process.returncode} at start")
        try:
            httpx2.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return process
        except httpx2.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{server.label} did not start in 60 s")


def _measure(server: Server, count: int, warmup: int) -> None:
    port = _free_port()
    process = _start(server, port)
    try:
        args = [sys.executable, "-m", "bench._load", f"http://127.0.0.1:{port}",
                "--concurrency", str(CONCURRENCY), "--requests", str(count),
                "--warmup", str(warmup), "--pid", str(process.pid)]  # fmt: skip
        if server.key:
            args += ["--key", server.key]
        args += server.load_args
        done = subprocess.run(args, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
        result: dict[str, Any] = json.loads(done.stdout)
    finally:
        process.terminate()
        process.wait(timeout=30)
    server.latencies += result["latencies_ms"]
    server.seconds += result["seconds"]
    server.cpu += result["cpu_s"]
    server.cpu_main += result["cpu_main_s"]
    server.errors += result["errors"]
    server.error_count += result["error_count"]


def _agentos_python(ctx: Context) -> tuple[Path | None, str]:
    """Agno's venv, with what AgentOS needs to serve (installed on first use)."""
    env = ctx.agno
    if env.python is None:
        return None, env.reason
    probe = [str(env.python), "-c", "import agno.os, fastapi, uvicorn, multipart"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        progress(f"installing {', '.join(AGENTOS_EXTRAS)} into Agno's venv (first use only)")
        pip = [str(env.python), "-m", "pip", "install", "--quiet", *AGENTOS_EXTRAS]
        if subprocess.run(pip, capture_output=True).returncode != 0:
            return None, "could not install fastapi/uvicorn into Agno's venv"
    return env.python, ""


def _servers(ctx: Context) -> tuple[list[Server], str]:
    from bench._service_apps import BENCH_KEY

    url = ctx.url
    ours = dict(os.environ, ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY="bench-key")
    ours.pop("AGNO_NB_API_KEYS", None)
    uvicorn = [sys.executable, "-m", "uvicorn"]
    servers = [
        Server("agno-nb service", [*uvicorn, "bench._service_apps:nb"],
               dict(ours, BENCH_DB=ctx.path("service.duckdb")), key=BENCH_KEY),
        Server("agno-nb service, the client names a new session per request",
               [*uvicorn, "bench._service_apps:nb"],
               dict(ours, BENCH_DB=ctx.path("service-sessions.duckdb")), key=BENCH_KEY,
               load_args=("--new-session",)),
        Server("bare FastAPI + SDK, httpx2 (floor)", [*uvicorn, "bench._service_apps:floor"],
               ours),
        Server("bare FastAPI + SDK, aiohttp (floor)",
               [*uvicorn, "bench._service_apps:floor_aiohttp"], ours),
    ]  # fmt: skip
    python, reason = _agentos_python(ctx)
    if python is not None:
        env = dict(agno_env_vars(url), BENCH_DB=ctx.path("agentos.db"))
        command = [str(python), "-m", "uvicorn", "_agentos_app:app", "--app-dir", str(BENCH_DIR)]
        servers.insert(1, Server("Agno 3.1.10 AgentOS", command, env))
    return servers, reason


def service(ctx: Context) -> Section:
    section = Section(
        "HTTP service under load",
        [
            "server",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "server CPU ms / request",
            "requests",
            "errors",
        ],
        description=(
            f"One uvicorn worker per server; {CONCURRENCY} concurrent clients (httpx2, own "
            "process) POST the scenario's run as a form and read the SSE reply whole; the "
            "fake model answers at zero delay. Each server serves "
            f"{ROUNDS} interleaved chunks after a warm-up; CPU is the server process's user "
            "+ system time over the timed requests."
        ),
    )
    servers, reason = _servers(ctx)
    total = ctx.n(2000, minimum=200)
    for round_no in range(ROUNDS):
        for server in servers:
            progress(
                f"service: {server.label}, chunk {round_no + 1}/{ROUNDS}, {total // ROUNDS} runs"
            )
            _measure(server, total // ROUNDS, warmup=max(40, total // 10))
    floors = [s for s in servers if s.label.startswith("bare")]
    floor = max(floors, key=lambda s: s.rps)
    for server in servers:
        section.add(
            server.label, f"{server.rps:.0f}", ms(server.quantile(0.5), 1),
            ms(server.quantile(0.99), 1), ms(server.cpu * 1000 / max(1, server.count)),
            server.count, server.error_count,
        )  # fmt: skip
    nb = servers[0]  # the target's row: the service as exported, sessions it names itself
    agentos = next((s for s in servers if s.label.startswith("Agno")), None)
    cpu_ms = nb.cpu * 1000 / max(1, nb.count)
    if agentos is not None:
        section.check(
            f"agno-nb requests/s >= {RPS_VS_AGENTOS:g}x AgentOS's",
            f"{nb.rps:.0f} vs {agentos.rps:.0f} ({ratio(nb.rps, agentos.rps)})",
            nb.rps >= RPS_VS_AGENTOS * agentos.rps,
        )
    else:
        section.check(f"agno-nb requests/s >= {RPS_VS_AGENTOS:g}x AgentOS's", reason, None)
    section.check(
        f"agno-nb requests/s within {100 - FLOOR_SHARE * 100:.0f}% of the faster floor",
        f"{nb.rps:.0f} vs {floor.rps:.0f} ({ratio(nb.rps, floor.rps)}, {floor.label})",
        nb.rps >= FLOOR_SHARE * floor.rps,
    )
    section.check(
        f"agno-nb server CPU <= {CPU_TARGET_MS:g} ms per request", f"{cpu_ms:.2f} ms",
        cpu_ms <= CPU_TARGET_MS,
    )  # fmt: skip
    loop_ms = nb.cpu_main * 1000 / max(1, nb.count)
    floor_ms = floor.cpu * 1000 / max(1, floor.count)
    section.notes.append(
        f"Where agno-nb's CPU goes: the event-loop thread {loop_ms:.2f} ms per request (the "
        f"faster floor's: {floor.cpu_main * 1000 / max(1, floor.count):.2f} ms), the store "
        f"thread {cpu_ms - loop_ms:.2f} ms (its run, session and span rows, written in a "
        f"few batches a second). Over the faster floor: +{cpu_ms - floor_ms:.2f} ms per "
        "request; the floor's own CPU moves by up to a third between runs on this machine, "
        "the difference much less."
    )
    for server in servers:
        if server.errors:
            section.notes.append(f"{server.label} errors (first): {server.errors[0]}")
    section.notes.append(
        "The machine has 2 cores shared by the server, the fake model and the load "
        "generator: requests/s is bounded by the whole box, CPU per request by the server."
    )
    return section
