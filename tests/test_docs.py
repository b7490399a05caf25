"""The docs cannot rot: the README example runs, and the public surface is documented."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import agno_nb
from agno_nb import exceptions
from agno_nb.testing import FakeAnthropic
from tests.service_support import support_story

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_example_runs(
    fake: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.reset(handler=support_story)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url or "")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_python_blocks(README)[0], "README.md", "exec"), {})
    assert out.getvalue().splitlines() == ["paused", "Done: refunded 30.00 on order 42."]
    assert (tmp_path / "agents.duckdb").exists()


def test_the_readme_first_screen_has_the_two_commands_then_the_example() -> None:
    first_screen = README.splitlines()[:40]
    text = "\n".join(first_screen)
    assert "make lab" in text and "make test" in text
    assert text.index("make test") < text.index("```python")
    assert len(_python_blocks(README)[0].splitlines()) <= 22


def test_the_readme_in_process_claude_example_runs_without_a_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    def no_socket(*args: object, **kwargs: object) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket.socket, "connect", no_socket)
    (block,) = [b for b in _python_blocks(README) if "ASGITransport" in b]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    assert out.getvalue() == "Order 42 has shipped.\n"


def test_exported_members_match_all() -> None:
    assert sorted(dir(agno_nb)) == sorted(agno_nb.__all__)
    for name in agno_nb.__all__:
        assert getattr(agno_nb, name) is not None


def test_every_exception_of_the_tree_and_the_public_seams_are_exported() -> None:
    from agno_nb.models import ModelRequest, ModelResponse
    from agno_nb.storage import Store
    from agno_nb.tools import Toolset

    for name in exceptions.__all__:
        assert getattr(agno_nb, name) is getattr(exceptions, name)
    assert (agno_nb.Store, agno_nb.Toolset) == (Store, Toolset)
    assert (agno_nb.ModelRequest, agno_nb.ModelResponse) == (ModelRequest, ModelResponse)
    assert callable(agno_nb.Agent.from_yaml) and callable(agno_nb.Agent.use_store)


def test_every_exception_is_documented_in_the_readme_and_the_tree() -> None:
    tree = exceptions.__doc__ or ""
    for name in exceptions.__all__:
        assert name in README, f"{name} is not in the README"
        assert name in tree, f"{name} is not in the exception tree of exceptions.py"
        assert issubclass(getattr(exceptions, name), exceptions.AgnoNBError)
