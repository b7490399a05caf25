"""docs/service.md cannot rot: every route, CLI flag, magic option and environment
variable of the service and the export is documented there."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from agno_nb.export.command import add_export_arguments
from agno_nb.runtime import create_app
from agno_nb.runtime.serve import add_serve_arguments
from tests.approval_agent import build

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "service.md").read_text()


def _flags(add: object) -> set[str]:
    parser = argparse.ArgumentParser()
    add(parser)  # type: ignore[operator]
    return {o for a in parser._actions for o in a.option_strings if o.startswith("--")} - {"--help"}


def test_every_route_is_documented(tmp_path: Path) -> None:
    app = create_app([build(str(tmp_path / "d.duckdb"))], auth=False)
    paths = {getattr(r, "path", "") for r in app.routes} - {"/docs/oauth2-redirect", "/redoc"}
    for path in paths:
        shown = re.sub(r"\{(\w+)\}", "{id}", path) if path.count("{") == 1 else path
        assert path in DOC or shown in DOC or path.replace("{agent_id}", "{id}") in DOC, path


def test_every_cli_flag_and_magic_option_is_documented() -> None:
    for flag in _flags(add_export_arguments) | _flags(add_serve_arguments):
        assert flag in DOC, flag
    for option in ("%agent_export NAME DIR", "--notebook", "--force", "--no-verify"):
        assert option in DOC, option


def test_every_environment_variable_is_documented() -> None:
    names = set()
    for module in ("auth.py", "serve.py", "app.py"):
        names |= set(
            re.findall(r"AGNO_NB_[A-Z_]+", (ROOT / "agno_nb" / "runtime" / module).read_text())
        )
    names -= {"AGNO_NB_SERVE_HOST", "AGNO_NB_SERVE_TARGET", "AGNO_NB_INSECURE", "AGNO_NB_JWT_"}
    for name in names:
        assert name in DOC, name
