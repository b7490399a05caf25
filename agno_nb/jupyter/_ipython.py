"""IPython glue for the magics: typed doors to IPython's untyped decorators, option
splitting, ``{expr}`` interpolation, completion, the input transformer that keeps
IPython from reading ``%agent ... it?`` as a help request, and ``guard_magics``: errors
in one line and a hint, help as plain text.

Prompts are free text (apostrophes, question marks, braces), so the magics do not
``shlex`` the whole line: leading options and the agent name are split off token by
token, and the rest of the line is the prompt, untouched.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import os
import re
import string
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

from IPython.core import magic as _magic
from IPython.core import magic_arguments as _ma
from IPython.display import display as _display

__all__ = [
    "DEBUG_ENV", "agent_names", "argument", "cell_magic", "complete_agent_name", "debugging",
    "display", "guard_magics", "interpolate", "line_cell_magic", "line_magic",
    "magic_arguments", "parse_argstring", "parser_of", "plain_help", "protect_help_syntax",
    "split_options",
]  # fmt: skip

# -- typed doors to IPython -------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


class Decorator(Protocol):
    def __call__(self, fn: F, /) -> F: ...


def magic_arguments() -> Decorator:
    return cast(Decorator, _ma.magic_arguments())  # type: ignore[no-untyped-call]


def argument(*args: Any, **kwargs: Any) -> Decorator:
    return cast(Decorator, _ma.argument(*args, **kwargs))  # type: ignore[no-untyped-call]


def line_magic(fn: F) -> F:
    return cast(F, _magic.line_magic(fn))


def cell_magic(fn: F) -> F:
    return cast(F, _magic.cell_magic(fn))


def line_cell_magic(fn: F) -> F:
    return cast(F, _magic.line_cell_magic(fn))


def parser_of(magic: Callable[..., Any]) -> argparse.ArgumentParser:
    """The argparse parser ``magic_arguments`` attached to a magic."""
    function = getattr(magic, "__func__", magic)
    return cast(argparse.ArgumentParser, function.__dict__["parser"])


def parse_argstring(magic: Callable[..., Any], line: str) -> Any:
    return _ma.parse_argstring(magic, line)  # type: ignore[no-untyped-call]


def display(obj: Any, **kwargs: Any) -> Any:
    return _display(obj, **kwargs)  # type: ignore[no-untyped-call]


# -- options, interpolation, completion ------------------------------------------------

_TOKEN = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\S+)""")
_FORMATTER = string.Formatter()


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1].replace("\\" + token[0], token[0])
    return token


def _takes_value(parser: argparse.ArgumentParser, option: str) -> bool | None:
    """True/False for a known option (whether it takes a value), None if unknown."""
    action = parser._option_string_actions.get(option.split("=", 1)[0])
    if action is None:
        return None
    return action.nargs != 0 and "=" not in option


def split_options(
    parser: argparse.ArgumentParser, line: str, *, names: int = 1
) -> tuple[list[str], str]:
    """Split ``line`` into argv (options and the first ``names`` positionals) and the
    rest of the line, verbatim. Options may come before or after the name; ``--`` ends
    them. Unknown ``-x`` tokens after the name start the prompt (``-5 degrees``)."""
    argv: list[str] = []
    pos, seen = 0, 0
    expect_value = False
    while True:
        match = _TOKEN.match(line, pos)
        if match is None:
            return argv, ""
        token = match.group(1)
        if expect_value:
            argv.append(_unquote(token))
            expect_value = False
        elif token == "--":
            pos = match.end()
            break
        elif token.startswith("-") and len(token) > 1:
            takes = _takes_value(parser, token)
            if takes is None and seen >= names:
                break
            argv.append(token)
            expect_value = bool(takes)
        elif seen < names:
            argv.append(_unquote(token))
            seen += 1
        else:
            break
        pos = match.end()
    return argv, line[pos:].strip()


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace ``{expr}`` (with optional ``!r`` / ``:spec``) by its value in
    ``namespace``; ``{{`` and ``}}`` stand for literal braces."""
    try:
        pieces = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise ValueError(f"{exc} in the prompt: write {{{{ and }}}} for literal braces") from None
    out: list[str] = []
    for literal, expr, spec, conversion in pieces:
        out.append(literal)
        if expr is None:
            continue
        if not expr.strip():
            raise ValueError("empty {} in the prompt: write {{}} for literal braces")
        try:
            value = eval(expr, {"__builtins__": __builtins__}, dict(namespace))
        except Exception as exc:
            raise ValueError(
                f"cannot interpolate {{{expr}}}: {type(exc).__name__}: {exc}"
            ) from None
        if conversion:
            value = _FORMATTER.convert_field(value, conversion)
        out.append(format(value, spec or ""))
    return "".join(out)


_LINE_MAGIC = re.compile(r"^([ \t]*)%(agent)[ \t]+(\S.*?)[ \t]*$")


def protect_help_syntax(lines: list[str]) -> list[str]:
    """IPython reads a line ending in ``word?`` as a help request: ``%agent support
    Where is it?`` would show help for ``it``. Rewrite such ``%agent`` lines into the
    explicit call before that happens (``%agent?`` alone still shows help)."""
    if lines and lines[0].lstrip().startswith("%%"):
        return lines
    out = []
    for line in lines:
        match = _LINE_MAGIC.match(line.rstrip("\n"))
        if match and match.group(3).endswith("?"):
            indent, name, rest = match.groups()
            line = f"{indent}get_ipython().run_line_magic({name!r}, {rest!r})\n"
        out.append(line)
    return out


#: names IPython binds by itself: the output cache (``_``, ``__``, ``_2``, ``Out``...)
_IPYTHON_NAMES = re.compile(r"^(_+|_\d+|_i+\d*|_[oid]h|In|Out|exit|quit|get_ipython)$")


def agent_names(namespace: Mapping[str, Any]) -> list[str]:
    """Names bound to an ``Agent`` in ``namespace`` (private names last), leaving out
    IPython's output cache (``_``, ``__``, ``_2``...)."""
    from agno_nb.agent import Agent

    names = [
        k
        for k, v in list(namespace.items())
        if isinstance(v, Agent) and not _IPYTHON_NAMES.match(k)
    ]
    return sorted(names, key=lambda n: (n.startswith("_"), n))


_COMPLETE = re.compile(r"^\s*%{1,2}(agent|agent_sessions|agent_runs)\s+(.*)$")


def complete_agent_name(
    text_until_cursor: str, namespace: Mapping[str, Any], parser: argparse.ArgumentParser
) -> list[str] | None:
    """Agent names completing the NAME of ``%agent`` / ``%%agent`` / ``%agent_sessions``
    / ``%agent_runs`` at the cursor; None when the cursor is elsewhere."""
    match = _COMPLETE.match(text_until_cursor)
    if match is None:
        return None
    tokens = match.group(2).split(" ")
    partial, before = tokens[-1], [t for t in tokens[:-1] if t]
    expect_value = False
    for token in before:
        if expect_value:
            expect_value = False
        elif token.startswith("-"):
            expect_value = bool(_takes_value(parser, token))
        else:
            return None  # the name is given already
    if expect_value or partial.startswith("-"):
        return None
    return [n for n in agent_names(namespace) if n.startswith(partial)]


# -- errors in one line, help in plain text -------------------------------------------

#: set to 1 (or use ``%xmode verbose``) to see the whole traceback of a magic's error
DEBUG_ENV = "AGNO_NB_DEBUG"
_MORE = "%xmode verbose or AGNO_NB_DEBUG=1 shows the traceback"


def debugging(shell: Any) -> bool:
    """Whether the magics' errors show their whole traceback: ``%xmode verbose``, or
    ``AGNO_NB_DEBUG`` set (to anything but empty, 0, false or no)."""
    if os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return True
    return getattr(getattr(shell, "InteractiveTB", None), "mode", "") == "Verbose"


def _hint(exc: BaseException) -> str:
    from agno_nb.exceptions import AgnoNBError, MissingAPIKeyError, StoreBusyError

    if isinstance(exc, MissingAPIKeyError):
        return (
            "set ANTHROPIC_API_KEY (or Claude(api_key=...)); "
            "agno_nb.testing.demo.use_demo_model() runs without one"
        )
    if isinstance(exc, StoreBusyError):
        return f"another process holds the database: let it finish, or stop it; {_MORE}"
    if isinstance(exc, ModuleNotFoundError):  # a package missing, not a broken import
        return f"pip install 'agno-nb[lab]' installs what the magics use; {_MORE}"
    if isinstance(exc, AgnoNBError):
        return _MORE
    return f"this looks like a bug in agno-nb; {_MORE}"


def _one_line(exc: BaseException) -> None:
    """Make IPython show ``exc`` as its type and message, then a hint: no traceback."""
    lines = [
        f"\x1b[31m{type(exc).__name__}\x1b[0m: {str(exc) or type(exc).__name__}",
        f"hint: {_hint(exc)}",
    ]
    exc._render_traceback_ = lambda: lines  # type: ignore[attr-defined]


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain_help(doc: str | None, usage: str) -> str | None:
    """A magic's docstring as IPython's ``?`` shows it, made plain text: the usage line
    under ``Usage:`` (``usage`` is ``%name`` or ``%%name``), no reST literals or roles."""
    if not doc:
        return doc
    doc = inspect.cleandoc(doc)
    name = usage.lstrip("%")
    doc = re.sub(r"^::\n\n  %" + re.escape(name), "Usage:\n  " + usage, doc)
    doc = _ROLE.sub(r"\1", doc).replace("``", "")
    return re.sub(r"(\w)::$", r"\1:", doc, flags=re.M)


def guard_magics(magics: Any) -> None:
    """Wrap the magics of a ``Magics`` instance (before it is registered): an exception
    other than a ``UsageError`` shows as one line and a hint, unless ``debugging``; the
    docstring ``%name?`` shows is ``plain_help``."""
    line, cell = magics.magics["line"], magics.magics["cell"]
    for kind, table in (("line", line), ("cell", cell)):
        for name, magic in list(table.items()):
            usage = f"%%{name}" if kind == "cell" and name not in line else f"%{name}"
            table[name] = _guarded(magic, magics.shell, usage)


def _guarded(magic: Callable[..., Any], shell: Any, usage: str) -> Callable[..., Any]:
    from IPython.core.error import UsageError

    @functools.wraps(magic)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return magic(*args, **kwargs)
        except Exception as exc:
            rendered = hasattr(exc, "_render_traceback_")
            if not isinstance(exc, UsageError) and not rendered and not debugging(shell):
                _one_line(exc)
            raise

    guarded.__doc__ = plain_help(magic.__doc__, usage)
    return guarded
