"""Real third-party MCP servers for the tests, installed on first use into ``.cache/mcp/``.

* ``mcp-server-time`` (PyPI) in its own venv: ``.cache/mcp/venv-time``;
* ``@modelcontextprotocol/server-everything`` and ``server-filesystem`` (npm):
  ``.cache/mcp/npm``.

Installing is idempotent (a stamp file names the pinned versions) and guarded by a file
lock, so parallel test sessions install once. ``server-everything`` listens on all
interfaces in HTTP mode (``app.listen(PORT)``; the package reads ``PORT`` but has no
host setting), so :func:`start_everything_http` preloads a tiny script with
``NODE_OPTIONS=--require`` that makes a port-only ``listen`` bind 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "mcp"
TIME_VERSION = "2026.10.19"
NPM_PACKAGES = {
    "@modelcontextprotocol/server-everything": "2026.8.31",
    "@modelcontextprotocol/server-filesystem": "2026.8.31",
}
LOOPBACK_PRELOAD = """\
// Loaded with NODE_OPTIONS=--require: a listen() given only a port binds 127.0.0.1.
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" || (typeof args[0] === "string" && /^\\d+$/.test(args[0]))) {
    if (args.length === 1 || typeof args[1] === "function") args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
"""


class InstallError(RuntimeError):
    """A test MCP server could not be installed (no npm, no network to the registry...)."""


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(command: list[str], what: str, timeout: float = 600) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"{what} failed: {' '.join(command)}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise InstallError(f"{what} failed ({done.returncode}): {' '.join(command)}\n{tail}")


def time_server() -> Path:
    """The ``mcp-server-time`` executable, installed in its own venv on first use."""
    venv = CACHE / "venv-time"
    exe = venv / "bin" / "mcp-server-time"
    stamp = venv / ".agno-nb-stamp"
    with _locked("venv-time"):
        if exe.exists() and stamp.exists() and stamp.read_text() == TIME_VERSION:
            return exe
        shutil.rmtree(venv, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", str(venv)], "creating the venv for mcp-server-time")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        _run([*pip, f"mcp-server-time=={TIME_VERSION}"], "pip install mcp-server-time")
        stamp.write_text(TIME_VERSION)
    return exe


def npm_servers() -> Path:
    """The ``node_modules/.bin`` folder with the npm servers, installed on first use."""
    prefix = CACHE / "npm"
    bin_dir = prefix / "node_modules" / ".bin"
    stamp = prefix / ".agno-nb-stamp"
    wanted = " ".join(f"{k}@{v}" for k, v in sorted(NPM_PACKAGES.items()))
    with _locked("npm"):
        (CACHE / "bind-loopback.cjs").write_text(LOOPBACK_PRELOAD)
        if (
            stamp.exists()
            and stamp.read_text() == wanted
            and (bin_dir / "mcp-server-everything").exists()
        ):
            return bin_dir
        npm = shutil.which("npm")
        if npm is None:
            raise InstallError("npm is not on PATH: install Node.js 20+ to run the MCP tests")
        prefix.mkdir(parents=True, exist_ok=True)
        _run(
            [
                npm,
                "install",
                "--prefix",
                str(prefix),
                "--no-audit",
                "--no-fund",
                "--save-exact",
                *(f"{k}@{v}" for k, v in NPM_PACKAGES.items()),
            ],
            "npm install of the MCP reference servers",
        )
        stamp.write_text(wanted)
    return bin_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def start_everything_http(bin_dir: Path) -> tuple[subprocess.Popen[bytes], str, int]:
    """server-everything over streamable HTTP on a free port of 127.0.0.1."""
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    env["NODE_OPTIONS"] = f"--require {CACHE / 'bind-loopback.cjs'}"
    process = subprocess.Popen(
        [str(bin_dir / "mcp-server-everything"), "streamableHttp"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process)
    return process, f"http://127.0.0.1:{port}/mcp", port


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
