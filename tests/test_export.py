"""``agno-nb export``: the cells an agent needs, the folder it writes, the check it runs,
and a refusal (with every reason) for each thing that cannot be exported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agno_nb.cli import main
from agno_nb.exceptions import ExportError
from agno_nb.export import export_notebook
from agno_nb.export.magic import run_magic

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "tests" / "notebooks" / "support.ipynb"
QUICKSTART = ROOT / "notebooks" / "quickstart.ipynb"
IMPORTS = "from agno_nb import Agent, tool\n"
TOOLS = (
    "@tool\ndef lookup_order(order_id: str) -> dict:\n"
    '    """Look up an order."""\n    return {"id": order_id}\n'
)
AGENT = 'support = Agent("support", model="anthropic:claude-sonnet-4-6", tools=[lookup_order])\n'


def notebook(tmp_path: Path, *cells: str, name: str = "nb.ipynb") -> Path:
    """A notebook of code cells (a cell starting with '#md ' is markdown)."""
    made = []
    for i, source in enumerate(cells):
        kind = "markdown" if source.startswith("#md ") else "code"
        cell: dict[str, Any] = {"cell_type": kind, "id": f"c{i}", "metadata": {},
                                "source": source.removeprefix("#md ")}  # fmt: skip
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        made.append(cell)
    path = tmp_path / name
    path.write_text(json.dumps({"cells": made, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def refusal(path: Path, agent: str, out: Path) -> list[str]:
    with pytest.raises(ExportError) as refused:
        export_notebook(path, agent, out, verify=False)
    assert not out.exists() or not any(out.iterdir()), "a refused export wrote files"
    return refused.value.problems


@pytest.mark.slow
def test_the_quickstart_exports_to_a_folder_that_works(tmp_path: Path) -> None:
    source = QUICKSTART if QUICKSTART.exists() else SUPPORT
    out = tmp_path / "build" / "support"
    result = export_notebook(source, "support", out)
    assert result.verified and result.secrets == []
    expected = {"agent.py", "app.py", "requirements.txt", "Dockerfile", "README.md",
                ".env.example", "tests/test_smoke.py"}  # fmt: skip
    assert expected <= set(result.files)
    manifest = json.loads((out / ".agno-nb-export.json").read_text())
    assert manifest["agent"] == "support" and set(manifest["files"]) == set(result.files)
    agent_py = (out / "agent.py").read_text()
    assert "support = Agent(" in agent_py and "# --- cell" in agent_py
    assert "%load_ext" not in agent_py and "%agent" not in agent_py
    requirements = (out / "requirements.txt").read_text()
    assert "agno-nb @ file://" in requirements and "fastapi==" in requirements
    assert "uvicorn app:app" in (out / "README.md").read_text()
    smoke = subprocess.run(
        [sys.executable, "tests/test_smoke.py"], cwd=out, capture_output=True, text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert smoke.returncode == 0, smoke.stderr


def test_only_the_cells_the_agent_needs_in_notebook_order(tmp_path: Path) -> None:
    result = export_notebook(SUPPORT, "support", tmp_path / "out", verify=False)
    assert result.cells == ["cell 2 [c1]", "cell 3 [c2]", "cell 4 [c3]", "cell 6 [c5]"]
    code = (tmp_path / "out" / "agent.py").read_text()
    positions = [code.index(f"# --- {label}") for label in result.cells]
    assert positions == sorted(positions)
    assert "left out line 1: notebook magic %load_ext" in code
    assert "import json" not in code and "import os" not in code  # unused imports dropped
    assert "json.dumps" not in code  # a display-only cell is not needed
    assert "support.run(" not in code and "%agent" not in code  # runs are not exported
    assert "(left out line 8: display only)" in code
    assert "def money(" in code and "REFUND_LIMIT = 100.0" in code  # helpers and constants
    compile(code, "agent.py", "exec")


def test_hidden_state_is_refused_with_each_name(tmp_path: Path) -> None:
    path = notebook(
        tmp_path, IMPORTS,
        '@tool\ndef lookup_order(order_id: str) -> dict:\n    """Look."""\n    return {"id": order_id, "carrier": CARRIER, "fee": FEE}\n',  # noqa: E501
        AGENT, 'CARRIER = "DHL"\n',
    )  # fmt: skip
    problems = refusal(path, "support", tmp_path / "out")
    assert any(
        "'CARRIER' is used in cell 2 [c1] but defined only later, in cell 4" in p for p in problems
    )
    assert any("'FEE' is used in cell 2 [c1] but no cell defines it" in p for p in problems)


def test_a_needed_cell_with_magics_is_refused(tmp_path: Path) -> None:
    path = notebook(
        tmp_path, IMPORTS + "%env ANTHROPIC_BASE_URL=http://localhost\nfiles = !ls\n",
        TOOLS, AGENT,
    )  # fmt: skip
    problems = refusal(path, "support", tmp_path / "out")
    assert any("cell 1 [c0] is needed but uses %env" in p for p in problems)
    assert any("uses !ls" in p for p in problems)


def test_an_ambiguous_or_unknown_agent_is_refused(tmp_path: Path) -> None:
    twice = notebook(tmp_path, IMPORTS + TOOLS, AGENT, AGENT.replace("support =", "helper ="))
    (problem,) = refusal(twice, "support", tmp_path / "a")
    assert "ambiguous" in problem and "cell 2 [c1], cell 3 [c2]" in problem
    rebound = notebook(tmp_path, IMPORTS + TOOLS, AGENT, "support = None\n", name="re.ipynb")
    (problem,) = refusal(rebound, "support", tmp_path / "b")
    assert "ambiguous" in problem and "cell 2 [c1], cell 3 [c2]" in problem
    (problem,) = refusal(twice, "billing", tmp_path / "c")
    assert problem.startswith("no cell defines an agent named 'billing'")
    assert "support (cell 2 [c1])" in problem and "helper (cell 3 [c2])" in problem


def test_a_folder_not_made_by_export_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    (problem,) = refusal_with_files(SUPPORT, out, force=True)
    assert "not created by agno-nb export" in problem and (out / "mine.txt").read_text() == "keep"
    fresh = tmp_path / "fresh"
    export_notebook(SUPPORT, "support", fresh, verify=False)
    (problem,) = refusal_with_files(SUPPORT, fresh, force=False)
    assert "--force" in problem
    (fresh / "agent.py").write_text("# stale")
    export_notebook(SUPPORT, "support", fresh, verify=False, force=True)
    assert "support = Agent(" in (fresh / "agent.py").read_text()


def refusal_with_files(path: Path, out: Path, *, force: bool) -> list[str]:
    with pytest.raises(ExportError) as refused:
        export_notebook(path, "support", out, verify=False, force=force)
    return refused.value.problems


def test_hard_coded_secrets_become_environment_lookups(tmp_path: Path) -> None:
    key = "sk-ant-api03-" + "x" * 40
    token = "ghp_" + "a" * 36
    path = notebook(
        tmp_path,
        IMPORTS + "import os\nfrom agno_nb import Claude\n"
        f'os.environ["ANTHROPIC_API_KEY"] = "{key}"\nGITHUB_TOKEN = "{token}"\n',
        TOOLS.replace('{"id": order_id}', '{"id": order_id, "auth": GITHUB_TOKEN}'),
        f'support = Agent("support", model=Claude("claude-sonnet-4-6", api_key="{key}"), tools=[lookup_order])\n',  # noqa: E501
    )  # fmt: skip
    result = export_notebook(path, "support", tmp_path / "out", verify=False)
    assert result.secrets == ["ANTHROPIC_API_KEY", "GITHUB_TOKEN"]
    code = (tmp_path / "out" / "agent.py").read_text()
    assert 'GITHUB_TOKEN = os.environ["GITHUB_TOKEN"]' in code
    assert 'api_key=os.environ["ANTHROPIC_API_KEY"]' in code
    assert "sets ANTHROPIC_API_KEY: see .env.example" in code
    for written in (tmp_path / "out").rglob("*"):
        if written.is_file():
            text = written.read_text()
            assert key not in text and token not in text, written
    assert "GITHUB_TOKEN=" in (tmp_path / "out" / ".env.example").read_text()
    assert any("hard-coded secret became os.environ['GITHUB_TOKEN']" in w for w in result.warnings)


def test_an_agent_defined_with_agent_def_exports_as_python(tmp_path: Path) -> None:
    path = notebook(
        tmp_path, IMPORTS + TOOLS,
        "%%agent_def support\nmodel: anthropic:claude-sonnet-4-6\ntools: [lookup_order]\n",
        "%agent support hello\n",
    )  # fmt: skip
    result = export_notebook(path, "support", tmp_path / "out", verify=False)
    code = (tmp_path / "out" / "agent.py").read_text()
    assert result.cells == ["cell 1 [c0]", "cell 2 [c1]"]
    assert "support = agno_nb.Agent.from_yaml(" in code and "tools: [lookup_order]" in code
    assert "agno_nb._" not in code  # generated code uses only the public API
    namespace: dict[str, Any] = {}
    exec(compile(code, "agent.py", "exec"), namespace)
    assert [t.name for t in namespace["support"].tools] == ["lookup_order"]


class _Shell:
    def __init__(self, user_ns: dict[str, Any]) -> None:
        self.user_ns = user_ns


def test_the_magic_exports_from_the_notebook_or_the_kernel_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_magic(
        _Shell({"__session__": str(SUPPORT)}), f"support {tmp_path / 'a'} --no-verify"
    )
    assert (
        result.cells[-1] == "cell 6 [c5]" and "exported agent 'support'" in capsys.readouterr().out
    )
    history = ["", IMPORTS + TOOLS, "get_ipython().run_line_magic('agent', 'support hi')",
               AGENT, "get_ipython().run_line_magic('agent_export', 'support out')"]  # fmt: skip
    result = run_magic(_Shell({"In": history}), f"support {tmp_path / 'b'} --no-verify")
    assert result.cells == ["cell 1", "cell 3"]
    with pytest.raises(ValueError, match="usage: %agent_export NAME DIR"):
        run_magic(_Shell({}), "support")


def test_the_command_line_lists_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = notebook(
        tmp_path, IMPORTS, TOOLS.replace("order_id}", "order_id, 'x': X, 'y': Y}"), AGENT
    )
    code = main(["export", str(path), "--agent", "support", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot export agent 'support'" in err
    assert "'X' is used" in err and "'Y' is used" in err
    ok = main(
        ["export", str(SUPPORT), "--agent", "support", "--out", str(tmp_path / "p"), "--no-verify"]
    )
    assert ok == 0 and "not checked" in capsys.readouterr().out


def test_agent_export_is_a_magic_of_the_extension(tmp_path: Path) -> None:
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "agno_nb.jupyter")
    out = tmp_path / "svc"
    line = f"support {out} --notebook {SUPPORT} --no-verify"
    result = shell.run_line_magic("agent_export", line)
    assert result.files and (out / "app.py").exists()
    with pytest.raises(UsageError, match="cannot export 'billing'"):
        shell.run_line_magic("agent_export", f"billing {tmp_path / 'x'} --notebook {SUPPORT}")


def test_a_syntax_error_in_the_agent_cell_is_reported_first(tmp_path: Path) -> None:
    broken = "%load_ext agno_nb.jupyter\n" + AGENT.replace("])\n", "]\nprint(support)\n")
    path = notebook(tmp_path, IMPORTS + TOOLS, broken, "%agent support hi\n")
    problems = refusal(path, "support", tmp_path / "out")
    first = problems[0]
    assert first.startswith("cell 2 [c1] is not valid Python (line 2: "), problems
    assert "never closed" in first or "invalid syntax" in first, first
    assert "no cell defines an agent" not in first
    compiles = notebook(tmp_path, IMPORTS + TOOLS, AGENT, "x = (\n", name="ok.ipynb")
    assert export_notebook(compiles, "support", tmp_path / "ok", verify=False).cells == [
        "cell 1 [c0]", "cell 2 [c1]"
    ]  # fmt: skip
