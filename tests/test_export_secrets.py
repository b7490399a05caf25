"""No secret reaches an export: a credential anywhere in the exported cells (a comment, a
docstring, a dict literal, part of a longer string, an f-string) is refused with where it
is, never what it is, unless ``--allow-secret`` names it; prose is not a credential."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from agno_nb.cli import build_parser, main
from agno_nb.exceptions import ExportError
from agno_nb.export import export_notebook
from agno_nb.export.magic import run_magic
from tests.test_export import AGENT, IMPORTS, ROOT, TOOLS, _Shell, notebook, refusal

KEY = "sk-ant-api03-" + "k7" * 20
BEARER = "Bearer " + "b1" * 12
GITHUB = "ghp_" + "g" * 36
AWS = "AKIA" + "ABCDEFGHIJ234567"
SLACK = "xoxb-" + "123456789012-abcdefghijkl"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0"
EXAMPLE = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id


def test_credentials_in_comments_docstrings_and_strings_are_refused(tmp_path: Path) -> None:
    path = notebook(
        tmp_path,
        f"# the old key was {KEY}, rotated\n# aws: {AWS}\n" + IMPORTS,
        "@tool\ndef lookup_order(order_id: str) -> dict:\n"
        f'    """Look up an order (tested with {KEY})."""\n'
        f'    headers = {{"Authorization": "{BEARER}"}}\n'
        f'    note = f"{SLACK} {{order_id}}"\n'
        '    return {"id": order_id, "headers": headers, "note": note}\n',
        'support = Agent("support", model="anthropic:claude-sonnet-4-6", tools=[lookup_order],\n'
        f'    instructions="Open issues with {GITHUB} and check {JWT} first.")\n',
    )  # fmt: skip
    problems = refusal(path, "support", tmp_path / "out")
    expected = [
        ("cell 1 [c0], line 1: an Anthropic API key (sk-ant-…) in a comment", "1:1"),
        ("cell 1 [c0], line 2: an AWS access key id (AKIA…) in a comment", "1:2"),
        ("cell 2 [c1], line 3: an Anthropic API key (sk-ant-…) in a docstring", "2:3"),
        ("cell 2 [c1], line 4: a bearer token (Bearer …) in a string", "2:4"),
        ("cell 2 [c1], line 5: a Slack token (xoxb-…) in an f-string", "2:5"),
        ("cell 3 [c2], line 2: a GitHub token (ghp_…) in a string", "3:2"),
        ("cell 3 [c2], line 2: a JWT (eyJ…) in a string", "3:2"),
    ]
    assert len(problems) == len(expected), problems
    for (start, location), problem in zip(expected, problems, strict=True):
        assert problem.startswith(start), problem
        assert "os.environ[" in problem and f"--allow-secret {location}" in problem
    said = "\n".join(problems)
    for secret in (KEY, BEARER, GITHUB, AWS, SLACK, JWT):
        assert secret[-10:] not in said


def test_a_literal_that_is_wholly_a_key_still_becomes_an_environment_lookup(
    tmp_path: Path,
) -> None:
    path = notebook(
        tmp_path, IMPORTS + "from agno_nb import Claude\n", TOOLS,
        f'support = Agent("support", model=Claude("claude-sonnet-4-6", api_key="{KEY}"),\n'
        "    tools=[lookup_order])  # no key in this comment\n",
    )  # fmt: skip
    result = export_notebook(path, "support", tmp_path / "out", verify=False)
    assert result.secrets == ["API_KEY"]
    assert KEY not in (tmp_path / "out" / "agent.py").read_text()


def test_prose_placeholders_and_identifiers_are_not_credentials(tmp_path: Path) -> None:
    prose = (
        "You are a support agent. Use the bearer of the card to check the order; never ask "
        "for a password, an API key or a token. Bearer YOUR_TOKEN_HERE is a placeholder."
    )
    path = notebook(
        tmp_path,
        IMPORTS + "risk_adjusted_task_key = 3\ntoken_count = 12  # Authorization: see docs\n",
        TOOLS.replace('"""Look up an order."""', '"""Look up an order (sk-test is fake)."""'),
        AGENT.replace(")\n", f", instructions={prose!r} * (token_count - risk_adjusted_task_key)"
                      ")\n"),
    )  # fmt: skip
    result = export_notebook(path, "support", tmp_path / "out", verify=False)
    assert result.secrets == [] and not [w for w in result.warnings if "--allow" in w]
    assert "the bearer of the card" in (tmp_path / "out" / "agent.py").read_text()


def _example(tmp_path: Path) -> Path:
    return notebook(tmp_path, f"# e.g. {EXAMPLE}, from the AWS docs\n" + IMPORTS, TOOLS, AGENT)


@pytest.mark.parametrize("allow", ["1:1", "aws"])
def test_allow_secret_copies_a_named_credential_with_a_warning(tmp_path: Path, allow: str) -> None:
    path = _example(tmp_path)
    (problem,) = refusal(path, "support", tmp_path / "refused")
    assert "--allow-secret 1:1" in problem
    result = export_notebook(path, "support", tmp_path / "out", verify=False, allow_secrets=[allow])
    assert EXAMPLE in (tmp_path / "out" / "agent.py").read_text()
    (warning,) = [w for w in result.warnings if "--allow-secret" in w]
    assert warning.startswith("cell 1 [c0], line 1: an AWS access key id (AKIA…) in a comment")
    assert warning.endswith(f"copied as written (--allow-secret {allow})")
    assert EXAMPLE not in warning


def test_allow_secret_from_the_command_line_and_the_magic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _example(tmp_path)
    argv = ["export", str(path), "--agent", "support", "--no-verify", "--out"]
    assert main([*argv, str(tmp_path / "a")]) == 2
    assert "--allow-secret 1:1" in capsys.readouterr().err
    assert main([*argv, str(tmp_path / "b"), "--allow-secret", "1:1"]) == 0
    assert "copied as written" in capsys.readouterr().out
    shell = _Shell({"__session__": str(path)})
    result = run_magic(shell, f"support {tmp_path / 'c'} --no-verify --allow-secret aws")
    assert result.files
    with pytest.raises(ExportError) as refused:
        export_notebook(path, "support", tmp_path / "d", verify=False, allow_secrets=[EXAMPLE])
    (problem,) = refused.value.problems
    assert "neither a credential kind" in problem and EXAMPLE not in problem


def test_a_credential_in_an_agent_def_yaml_is_refused_at_its_notebook_line(
    tmp_path: Path,
) -> None:
    path = notebook(
        tmp_path, IMPORTS + TOOLS,
        "%%agent_def support\nmodel: anthropic:claude-sonnet-4-6\ntools: [lookup_order]\n"
        f"instructions: Use {GITHUB} for the GitHub API.\n",
    )  # fmt: skip
    (problem,) = refusal(path, "support", tmp_path / "out")
    assert problem.startswith("cell 2 [c1], line 4: a GitHub token (ghp_…) in the %%agent_def")


def test_every_export_flag_is_documented() -> None:
    doc = (ROOT / "docs" / "service.md").read_text()
    commands: Any = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    flags = {o for a in commands.choices["export"]._actions for o in a.option_strings}
    for flag in flags - {"-h", "--help"}:
        assert flag in doc, flag
    assert "%agent_export NAME DIR [--force] [--notebook PATH] [--no-verify] [--allow-secret" in doc
