"""docs/notebook.md documents every magic, every option and every ``%config`` setting."""

from __future__ import annotations

import argparse
from pathlib import Path

from agno_nb.cli import build_parser
from agno_nb.jupyter._ipython import parser_of
from agno_nb.jupyter.magics import AgentMagics
from agno_nb.jupyter.resume import ResumeMagics
from agno_nb.jupyter.store_magics import StoreMagics

DOC = (Path(__file__).resolve().parents[1] / "docs" / "notebook.md").read_text()
MAGICS = {
    "agent": AgentMagics.agent,
    "agent_def": AgentMagics.agent_def,
    "agent_sessions": StoreMagics.agent_sessions,
    "agent_runs": StoreMagics.agent_runs,
    "agent_traces": StoreMagics.agent_traces,
    "agent_approvals": StoreMagics.agent_approvals,
    "agent_sql": StoreMagics.agent_sql,
    "agent_resume": ResumeMagics.agent_resume,
}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help")]


def test_every_magic_and_option_is_documented() -> None:
    for name, magic in MAGICS.items():
        assert f"%{name}" in DOC, name
        for option in _options(parser_of(magic)):
            assert f"`{option}" in DOC or f" {option} " in DOC or f"[{option}" in DOC, (
                name,
                option,
            )


def test_every_config_setting_is_documented() -> None:
    for name in AgentMagics.class_trait_names(config=True):
        assert f"`AgentMagics.{name}`" in DOC, name


def test_the_kernel_and_lab_commands_are_documented() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lab = sub.choices["lab"]
    for option in _options(lab):
        assert option in DOC, option
    kernel = sub.choices["kernel"]
    actions = next(a for a in kernel._actions if isinstance(a, argparse._SubParsersAction))
    for action, subparser in actions.choices.items():
        assert f"agno-nb kernel {action}" in DOC
        for option in _options(subparser):
            assert option in DOC, (action, option)
