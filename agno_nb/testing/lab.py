"""A throwaway JupyterLab and a headless Chromium, for browser tests and benchmarks.

``LabServer`` starts ``jupyter lab`` on 127.0.0.1 with private runtime, config, settings
and workspace directories (nothing of the user's leaks in, nothing is fetched), and the
agno-nb kernelspec installed as ``python3`` in a private prefix: every notebook's kernel
preloads the extension. ``chromium()`` launches Debian's Chromium through Playwright
(never a downloaded browser)::

    with LabServer(folder) as lab, chromium() as browser:
        page = browser.new_page()
        page.goto(lab.url + "/lab/tree/quickstart.ipynb?reset")
        page.wait_for_function(KERNEL_READY)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["CHROMIUM", "KERNEL_READY", "LabServer", "chromium", "run_all"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
)  # fmt: skip

#: true once the current notebook's kernel is connected and idle (run-all before that
#: opens a "Select Kernel" dialog)
KERNEL_READY = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LabServer:
    """``jupyter lab`` serving ``root`` (see the module docstring); ``url`` once started."""

    def __init__(self, root: str | os.PathLike[str], *, pythonpath: str | None = None) -> None:
        self.root = Path(root)
        self.pythonpath = pythonpath
        self.url = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self, timeout: float = 60.0) -> str:
        from agno_nb.cli import install_kernel

        self._tmp = tempfile.TemporaryDirectory(prefix="agno-nb-lab-")
        tmp = Path(self._tmp.name)
        install_kernel("python3", prefix=str(tmp / "prefix"))
        settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
        env.update(
            JUPYTER_PATH=str(tmp / "prefix" / "share" / "jupyter"),
            JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
            JUPYTER_CONFIG_DIR=str(tmp / "config"),
            JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        )
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [self.pythonpath,
                                                              env.get("PYTHONPATH")]))  # fmt: skip
        port = _free_port()
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.token=",
            "--ServerApp.ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True",
            f"--ServerApp.root_dir={self.root}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]  # fmt: skip
        self._log = (tmp / "server.log").open("wb")
        self._process = subprocess.Popen(command, env=env, stdout=self._log, stderr=self._log)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/status", timeout=2)
                return self.url
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    log = (tmp / "server.log").read_text(errors="replace")
                    self.stop()
                    raise RuntimeError(f"JupyterLab did not start:\n{log}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LabServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def run_all(page: Any, url: str, timeout: float = 90.0) -> None:
    """Open ``url`` (a notebook), wait for its kernel, then run every cell (fired, not
    awaited: wait on the page's content afterwards)."""
    page.goto(url)
    page.wait_for_function(KERNEL_READY, timeout=timeout * 1000)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
