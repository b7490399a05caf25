"""Hard-coded secrets in exported code: find them, never copy them.

A string literal is a secret when it is wholly a credential (``sk-ant-...``, ``ghp_...``,
``AKIA...``, a JWT, ...: the shapes of ``_credentials``) or when it is assigned, or passed
as a keyword, to a name like ``API_KEY``, ``GITHUB_TOKEN``, ``client_secret`` or
``password``. Each one is replaced by an ``os.environ["NAME"]`` lookup, and NAME goes to
``.env.example``; a statement that only puts a literal into ``os.environ`` is left out.
Messages name the cell, the line and the variable, never the value. A credential that is
only part of a string, in an f-string, a docstring or a comment is not replaced: the
scan of ``_credentials`` finds it and the export refuses.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from agno_nb.export._credentials import whole

__all__ = ["Secret", "SecretScan", "env_name", "scan_secrets"]

_SECRET_NAME = re.compile(
    r"(^|_)(api_?key|apikey|secret|client_secret|token|access_token|auth_token|password"
    r"|passwd|pwd|credentials?)$",
    re.IGNORECASE,
)
_UPPER_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL")
_KNOWN_ENV = (("sk-ant-", "ANTHROPIC_API_KEY"), ("sk-", "OPENAI_API_KEY"))


def secret_name(name: str) -> bool:
    """Whether a variable, keyword or environment name says it holds a secret."""
    if name.isupper() or ("_" in name and name.upper() == name):
        return bool(_UPPER_SECRET.search(name))
    return bool(_SECRET_NAME.search(name))


def env_name(name: str) -> str:
    """``apiKey`` / ``api_key`` -> ``API_KEY``."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"\W+", "_", snake).strip("_").upper() or "SECRET"


@dataclass(slots=True)
class Secret:
    """One hard-coded secret: where, and the variable that replaces it."""

    node: ast.Constant
    env: str
    where: str
    drop_statement: bool = False


@dataclass(slots=True)
class SecretScan:
    secrets: list[Secret] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return sorted({s.env for s in self.secrets})


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _context_name(node: ast.Constant, parents: dict[int, ast.AST]) -> str | None:
    """The name a literal is bound to: assignment target, keyword, dict key, env key."""
    parent = parents.get(id(node))
    if isinstance(parent, ast.keyword) and parent.arg:
        return parent.arg
    if isinstance(parent, ast.Assign | ast.AnnAssign):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        for target in targets:
            if isinstance(target, ast.Name):
                return target.id
            if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                return str(target.slice.value)
            if isinstance(target, ast.Attribute):
                return target.attr
    if isinstance(parent, ast.Dict):
        for key, value in zip(parent.keys, parent.values, strict=True):
            if value is node and isinstance(key, ast.Constant) and isinstance(key.value, str):
                return key.value
    if isinstance(parent, ast.Call) and parent.args and parent.args[-1] is node:
        first = parent.args[0]
        if len(parent.args) == 2 and isinstance(first, ast.Constant):  # setdefault("K", "v")
            return str(first.value)
    return None


def _sets_environ(statement: ast.stmt) -> bool:
    """``os.environ["K"] = "v"`` or ``os.environ.setdefault("K", "v")``."""
    text = ast.unparse(statement)
    return text.startswith(("os.environ[", "environ[", "os.environ.setdefault(", "os.putenv("))


def scan_secrets(statement: ast.stmt, where: str, seen: dict[str, str]) -> SecretScan:
    """The secrets in one statement; ``seen`` maps values already found to their env
    names, so that one key used twice gets one variable."""
    scan = SecretScan()
    parents = _parents(statement)
    for node in ast.walk(statement):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if isinstance(parents.get(id(node)), ast.JoinedStr | ast.Expr):
            continue  # an f-string part, a docstring: not a value to swap (scan_code refuses)
        value = node.value
        name = _context_name(node, parents)
        looks = whole(value) is not None
        named = name is not None and secret_name(name) and len(value) >= 8 and " " not in value
        if not looks and not named:
            continue
        env = seen.get(value) or _pick_env(value, name, seen)
        seen[value] = env
        scan.secrets.append(Secret(node, env, where, drop_statement=_sets_environ(statement)))
    return scan


def _pick_env(value: str, name: str | None, seen: dict[str, str]) -> str:
    if name is not None and secret_name(name):
        return env_name(name)
    for prefix, env in _KNOWN_ENV:
        if value.startswith(prefix) and env not in seen.values():
            return env
    if name:
        return env_name(name) + "_SECRET" if not secret_name(name) else env_name(name)
    return f"AGNO_NB_SECRET_{len(seen) + 1}"
