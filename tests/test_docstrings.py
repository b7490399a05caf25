"""Docstrings and docs name only what exists: magics, ``agno-nb`` commands, modules and
their members, and no user interface that agno-nb does not have."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "agno_nb"
#: placeholders for a magic's name in prose
PLACEHOLDERS = {"name", "cell_magic"}


def _docstrings() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 1)}"
                    found.append((where, doc))
    return found


DOCSTRINGS = _docstrings()
DOCS = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
        for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]]  # fmt: skip


@pytest.fixture(scope="module")
def magics() -> set[str]:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell: Any = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "agno_nb.jupyter")
    table = shell.magics_manager.magics
    return {*table["line"], *table["cell"]}  # IPython's and agno-nb's


def test_every_magic_named_in_docstrings_and_docs_exists(magics: set[str]) -> None:
    for where, text in DOCSTRINGS + DOCS:
        for name in re.findall(r"(?<![\w%])%%?([a-z]\w+)", text):
            assert name in magics or name in PLACEHOLDERS, (where, name)


def test_every_agno_nb_command_named_exists() -> None:
    import argparse

    from agno_nb.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for where, text in DOCSTRINGS + DOCS:
        for name in re.findall(r"`agno-nb ([a-z]+)", text):
            assert name in sub.choices, (where, name)


def test_every_module_and_member_named_in_a_docstring_exists() -> None:
    for where, doc in DOCSTRINGS:
        for ref in re.findall(r"`{1,2}(agno_nb(?:\.\w+)+)", doc):
            parts = ref.split(".")
            if parts[-1] == "duckdb" and len(parts) == 2:  # the default database file
                continue
            for cut in range(len(parts), 0, -1):
                try:
                    obj: Any = importlib.import_module(".".join(parts[:cut]))
                except ImportError:
                    continue
                for attr in parts[cut:]:
                    assert hasattr(obj, attr), (where, ref)
                    obj = getattr(obj, attr)
                break


def test_no_docstring_or_doc_describes_a_user_interface_that_does_not_exist() -> None:
    # agno-nb has no JupyterLab panel and no approvals command line (yet)
    for where, text in DOCSTRINGS + DOCS:
        assert not re.search(r"agents panel|side panel|CLI ──", text, re.I), where
