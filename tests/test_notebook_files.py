"""What a notebook's folder shows: a store leaves its database and hidden sidecar files;
the shipped notebooks are saved as JupyterLab saves them, so that opening one (as
``make lab`` does) does not mark it modified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from argparse import Namespace
from pathlib import Path

import pytest

from agno_nb import Agent

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("quickstart.ipynb", "mcp.ipynb", "traces.ipynb")


def test_a_store_leaves_its_database_and_hidden_sidecar_files(tmp_path: Path) -> None:
    from agno_nb.runtime._lock import service_lock_path

    agent = Agent("a", model="test", db=str(tmp_path / "x.duckdb"))
    agent.run("hi")
    store = agent.store
    assert store is not None
    assert service_lock_path(store) == str(tmp_path / ".x.duckdb.service")
    store.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n for n in names if not n.startswith(".")] == ["x.duckdb"]
    assert {".x.duckdb.lock", ".x.duckdb.queue"} <= set(names)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_notebooks_are_saved_as_jupyterlab_saves_them(name: str) -> None:
    import nbformat
    from ipykernel.ipkernel import IPythonKernel

    text = (ROOT / "notebooks" / name).read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert text == nbformat.writes(nb) + "\n"
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5) and all(c.get("id") for c in nb.cells)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert (cell.outputs, cell.execution_count) == ([], None), cell.id
    assert nb.metadata.kernelspec == {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3",
    }  # fmt: skip
    info, kernel = dict(nb.metadata.language_info), dict(IPythonKernel.language_info)
    assert info.keys() == kernel.keys()  # what the kernel reports, field for field
    assert {k: v for k, v in info.items() if k != "version"} == {
        k: v for k, v in kernel.items() if k != "version"
    }


def test_agno_nb_lab_gives_the_notebooks_this_pythons_language_info(tmp_path: Path) -> None:
    import nbformat
    from ipykernel.ipkernel import IPythonKernel

    from agno_nb.cli import align_language_info

    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    nb.metadata.language_info["version"] = "3.0.0"
    (tmp_path / "quickstart.ipynb").write_text(nbformat.writes(nb) + "\n")
    other = json.dumps({**nb, "metadata": {**nb.metadata, "language_info": {"name": "python"}}})
    (tmp_path / "mine.ipynb").write_text(other)  # not nbformat's layout: left alone
    assert align_language_info(tmp_path) == ["quickstart.ipynb"]
    aligned = nbformat.read(tmp_path / "quickstart.ipynb", as_version=4)
    assert aligned.metadata.language_info == IPythonKernel.language_info
    assert (tmp_path / "mine.ipynb").read_text() == other
    assert align_language_info(tmp_path) == []


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_opening_the_quickstart_as_make_lab_does_leaves_it_unmodified(tmp_path: Path) -> None:
    """``agno-nb lab``'s own command line, its kernelspec and this venv's ``python3``; the
    notebook is opened, its kernel started, and JupyterLab's model stays clean."""
    from agno_nb.testing.lab import CHROMIUM, KERNEL_READY, _free_port, chromium

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: apt-get install -y chromium")
    pytest.importorskip("playwright.sync_api")
    from agno_nb.cli import align_language_info, install_kernel, lab_command

    root = tmp_path / "checkout"
    (root / "notebooks").mkdir(parents=True)
    quickstart = root / "notebooks" / "quickstart.ipynb"
    quickstart.write_bytes((ROOT / "notebooks" / "quickstart.ipynb").read_bytes())
    align_language_info(root / "notebooks")  # what `agno-nb lab` does first
    saved = quickstart.read_bytes()
    private = Path(tempfile.mkdtemp(prefix="agno-nb-lab-", dir=tmp_path))
    install_kernel(prefix=str(private / "prefix"))
    port = _free_port()
    args = Namespace(
        dir=str(root / "notebooks"), port=port, no_browser=True, dry_run=False,
        jupyter_args=["--ServerApp.token=", "--ServerApp.ip=127.0.0.1",
                      "--ServerApp.port_retries=0", "--LabApp.expose_app_in_browser=True"],
    )  # fmt: skip
    command, cwd = lab_command(args)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update(
        JUPYTER_PATH=str(private / "prefix" / "share" / "jupyter"),
        JUPYTER_RUNTIME_DIR=str(private / "runtime"),
        JUPYTER_CONFIG_DIR=str(private / "config"),
        JUPYTERLAB_SETTINGS_DIR=str(private / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(private / "workspaces"),
    )
    with (private / "server.log").open("wb") as log:
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/status", timeout=2)
                    break
                except OSError:
                    assert server.poll() is None and time.monotonic() < deadline
                    time.sleep(0.1)
            with chromium() as browser:
                page = browser.new_page()
                page.goto(f"{url}/lab/tree/notebooks/quickstart.ipynb?reset")
                page.wait_for_function(KERNEL_READY, timeout=90_000)
                time.sleep(2)  # language_info and kernelspec arrive after the kernel
                model = "window.jupyterapp.shell.currentWidget.context.model"
                assert page.evaluate(f"() => {model}.dirty") is False
                kernel = page.evaluate(f"() => {model}.getMetadata('kernelspec').name")
                assert kernel == "python3"
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert quickstart.read_bytes() == saved
    assert sys.executable  # the kernel ran this venv's Python (the python3 kernelspec)
