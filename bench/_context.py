"""What sections share: the fake server process, Agno's venv, a scratch directory and the
iteration scale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._scenario import API_KEY
from bench._stats import progress

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
AGNO_VENV = BENCH_DIR / ".venv-agno"
AGNO_PIN = "agno==3.1.10"
AGNO_FALLBACKS = (AGNO_PIN, "agno>=3.1,<3.2", "agno")
# SqliteDb imports sqlalchemy.ext.asyncio, which needs greenlet (sqlalchemy[asyncio])
AGNO_EXTRAS = ("anthropic", "sqlalchemy[asyncio]")


@dataclass(frozen=True, slots=True)
class AgnoEnv:
    """Agno's venv: its python and Agno's version, or why it is unavailable."""

    python: Path | None
    version: str
    reason: str = ""


def agno_env_vars(url: str | None = None) -> dict[str, str]:
    """The environment of every Agno process: telemetry off, a key for the fake."""
    env = dict(os.environ, AGNO_TELEMETRY="false", ANTHROPIC_API_KEY=API_KEY)
    env.pop("ANTHROPIC_BASE_URL", None)
    if url:
        env["ANTHROPIC_BASE_URL"] = url
    return env


def _pip(python: Path, requirement: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    return subprocess.run([*cmd, requirement, *AGNO_EXTRAS], capture_output=True, text=True)


def _agno_version(python: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('agno'))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _wanted() -> str:
    """What the stamp records: the venv is redone when the requirements change."""
    return " ".join((AGNO_PIN, *AGNO_EXTRAS))


def ensure_agno() -> AgnoEnv:
    """Create (or complete) ``bench/.venv-agno`` on first use; never raises."""
    python = AGNO_VENV / "bin" / "python"
    stamp = AGNO_VENV / ".installed"
    if stamp.exists() and python.exists():
        version, _, wanted = stamp.read_text().strip().partition("\n")
        if wanted == _wanted():
            return AgnoEnv(python, version)
    progress(f"setting up {AGNO_VENV}: pip install {_wanted()} (first use only)")
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(AGNO_VENV)], capture_output=True)
        if made.returncode != 0:
            return AgnoEnv(None, "", f"python -m venv failed: {made.stderr.decode()[-300:]}")
    errors = []
    for requirement in AGNO_FALLBACKS:
        done = _pip(python, requirement)
        if done.returncode == 0:
            version = _agno_version(python)
            stamp.write_text(f"{version}\n{_wanted()}\n")
            return AgnoEnv(python, version)
        errors.append(f"{requirement}: {done.stderr.strip().splitlines()[-1:]}")
    return AgnoEnv(None, "", "pip could not install Agno: " + "; ".join(errors))


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def busy_fraction(seconds: float = 1.0) -> float | None:
    """How busy the machine's CPUs were over ``seconds`` (0..1), None if unknown."""
    try:
        busy0, total0 = _cpu_times()
        time.sleep(seconds)
        busy1, total1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_for_quiet(threshold: float = 0.25, max_wait: float = 90.0) -> str:
    """Wait (up to ``max_wait`` s) until other processes leave the CPUs mostly idle; say
    how busy they were. Between sections the bench's own processes are idle."""
    start = time.monotonic()
    busy = busy_fraction()
    while busy is not None and busy > threshold and time.monotonic() - start < max_wait:
        progress(f"the machine is {busy:.0%} busy with other work: waiting for it to calm down")
        time.sleep(4.0)
        busy = busy_fraction()
    waited = time.monotonic() - start
    if busy is None:
        return "CPU load before the section: unknown"
    return f"CPUs {busy:.0%} busy with other work when the section started (waited {waited:.0f} s)"


class Context:
    """Shared state of one bench invocation (close it at the end)."""

    def __init__(self, *, scale: float = 1.0) -> None:
        self.scale = scale
        self._tmp = tempfile.TemporaryDirectory(prefix="agno-nb-bench-")
        self.tmp = Path(self._tmp.name)
        self._server: subprocess.Popen[str] | None = None
        self._url: str | None = None
        self._agno: AgnoEnv | None = None

    def n(self, count: int, minimum: int = 10) -> int:
        """An iteration count, scaled down by ``--quick``."""
        return max(minimum, round(count * self.scale))

    def path(self, name: str) -> str:
        return str(self.tmp / name)

    @property
    def url(self) -> str:
        """The fake server's base URL (started on first use, in its own process)."""
        if self._url is None:
            progress("starting the fake Anthropic server (python -m bench._server)")
            self._server = subprocess.Popen(
                [sys.executable, "-m", "bench._server"],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self._server.stdout is not None
            line = self._server.stdout.readline().strip()
            if not line.startswith("http"):
                raise RuntimeError("the fake server did not start (see its stderr above)")
            self._url = line
        return self._url

    @property
    def agno(self) -> AgnoEnv:
        if self._agno is None:
            self._agno = ensure_agno()
        return self._agno

    @property
    def agno_if_loaded(self) -> AgnoEnv | None:
        """Agno's venv if a section used it (for the report header)."""
        return self._agno

    def agno_side(self, command: str, **options: Any) -> dict[str, Any] | str:
        """Run ``bench/agno_side.py COMMAND`` in Agno's venv: its JSON, or why not."""
        env = self.agno
        if env.python is None:
            return env.reason
        args = [str(env.python), str(BENCH_DIR / "agno_side.py"), command, "--tmp", str(self.tmp)]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        env_vars = agno_env_vars(options.get("url"))
        done = subprocess.run(args, env=env_vars, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            return f"agno_side.py {command} exited with {done.returncode} (see stderr)"
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            assert server.stdin is not None
            server.stdin.close()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.terminate()
                server.wait(timeout=10)
        self._tmp.cleanup()
