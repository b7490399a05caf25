"""``agno-nb kernel install|uninstall`` and ``agno-nb lab`` (its command line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agno_nb.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def test_kernel_install_registers_the_spec_with_the_extension_preloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    assert main(["kernel", "install", "--prefix", str(tmp_path), "--name", "nb-test"]) == 0
    assert "Installed kernelspec 'nb-test' (Python 3 (agno-nb))" in capsys.readouterr().out
    spec = KernelSpecManager().get_kernel_spec("nb-test")
    assert spec.display_name == "Python 3 (agno-nb)"
    assert spec.argv[-1] == "--IPKernelApp.extensions=agno_nb.jupyter"
    assert spec.argv[:3][1:] == ["-m", "ipykernel_launcher"]
    kernel_json = json.loads((Path(spec.resource_dir) / "kernel.json").read_text())
    assert kernel_json["metadata"]["agno_nb"] is True
    assert (Path(spec.resource_dir) / "logo-64x64.png").exists()
    assert main(["kernel", "uninstall", "--name", "nb-test"]) == 0
    assert "nb-test" not in KernelSpecManager().find_kernel_specs()
    assert main(["kernel", "uninstall", "--name", "nb-test"]) == 1
    assert "no kernelspec named 'nb-test'" in capsys.readouterr().err


def test_lab_opens_the_quickstart_offline_with_the_token_left_as_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["lab", "--dry-run", "--port", "9999", "--", "--ServerApp.ip=127.0.0.1"]) == 0
    command = capsys.readouterr().out.split()
    assert command[1:4] == ["-m", "jupyter", "lab"] and command[4] == "notebooks/quickstart.ipynb"
    assert f"--ServerApp.root_dir={ROOT}" in command
    assert "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate" in command
    assert "--LabApp.news_url=None" in command
    assert "--MappingKernelManager.default_kernel_name=agno-nb" in command
    assert "--LabApp.extension_manager=readonly" in command
    assert "--ServerApp.port=9999" in command and command[-1] == "--ServerApp.ip=127.0.0.1"
    assert not any("token" in part for part in command)


def test_lab_with_a_folder_without_the_quickstart_says_so(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no notebooks/quickstart\.ipynb"):
        main(["lab", "--dry-run", "--dir", str(tmp_path)])


def test_the_parser_has_room_for_more_subcommands() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([])
    assert parser.parse_args(["kernel", "install", "--user"]).user is True
