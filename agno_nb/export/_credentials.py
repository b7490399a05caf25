"""Credential shapes, and where they hide in code: comments, strings, docstrings, f-strings.

The shapes are those the span scrubber (``agno_nb._scrub``) knows (``sk-...`` keys,
``Bearer`` tokens, ``Authorization`` / ``x-api-key`` header values) and the usual vendor
prefixes: Anthropic, OpenAI, GitHub (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``,
``github_pat_``), AWS access key ids (``AKIA`` / ``ASIA`` + 16), Slack (``xox[abprs]-``),
Google (``AIza``), Hugging Face (``hf_``), GitLab (``glpat-``) and JWTs (three base64url
segments, the first ``eyJ``). A bearer token or a header value counts only when it looks
random (16 / 8 characters or more, with a digit): "the bearer of the card" and
``Bearer YOUR_TOKEN`` are prose and placeholders, not secrets.

``scan_code`` tokenizes a cell (``tokenize``: comments and string tokens, f-string parts
included) and reports each credential with its line and a masked prefix (``sk-ant-…``),
never the secret itself.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["SHAPES", "Finding", "Shape", "allow_problems", "scan_code", "scan_text", "whole"]


@dataclass(frozen=True, slots=True)
class Shape:
    """One kind of credential: ``kind`` is its ``--allow-secret`` name, ``env`` the
    variable to read it from; the pattern's ``prefix`` group is all that is ever shown."""

    kind: str
    label: str
    env: str
    pattern: re.Pattern[str]
    whole: bool = True  # a literal that is only this is replaced by os.environ[...]


def _shape(kind: str, label: str, env: str, pattern: str, *, whole: bool = True) -> Shape:
    return Shape(kind, label, env, re.compile(pattern), whole)


_RANDOM = r"(?=[^\s\"'`,;}\]]*\d)"  # the value has a digit: not a word, not a placeholder
SHAPES = (
    _shape("anthropic", "an Anthropic API key", "ANTHROPIC_API_KEY",
           r"\b(?P<prefix>sk-ant-)[\w-]{16,}"),
    _shape("openai", "an OpenAI-style API key", "OPENAI_API_KEY",
           r"\b(?P<prefix>sk-(?!ant-)(?:proj-)?)[\w-]{20,}"),
    _shape("github", "a GitHub token", "GITHUB_TOKEN",
           r"\b(?P<prefix>gh[pousr]_|github_pat_)\w{30,}"),
    _shape("aws", "an AWS access key id", "AWS_ACCESS_KEY_ID",
           r"\b(?P<prefix>AKIA|ASIA)[0-9A-Z]{16}\b"),
    _shape("slack", "a Slack token", "SLACK_TOKEN", r"\b(?P<prefix>xox[abprs]-)[\w-]{10,}"),
    _shape("google", "a Google API key", "GOOGLE_API_KEY", r"\b(?P<prefix>AIza)[\w-]{30,}"),
    _shape("huggingface", "a Hugging Face token", "HF_TOKEN", r"\b(?P<prefix>hf_)\w{30,}"),
    _shape("gitlab", "a GitLab token", "GITLAB_TOKEN", r"\b(?P<prefix>glpat-)[\w-]{20,}"),
    _shape("jwt", "a JWT", "API_TOKEN", r"\b(?P<prefix>eyJ)[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}"),
    _shape("bearer", "a bearer token", "API_TOKEN",
           rf"\b(?P<prefix>(?i:bearer)\s+){_RANDOM}[\w.~+/-]{{16,}}=*", whole=False),
    _shape("header", "an API key header value", "API_KEY",
           rf"\b(?P<prefix>(?i:authorization|x-api-key)[\"']?\s*[:=]\s*[\"']?"
           r"(?:(?i:basic|token)\s+)?)(?!(?i:bearer)\s)"
           rf"{_RANDOM}[^\s\"'`,;}}\]]{{8,}}", whole=False),
)  # fmt: skip
KINDS = tuple(shape.kind for shape in SHAPES)
_LOCATION = re.compile(r"^\d+:\d+$")
_FSTRING_MIDDLE = getattr(tokenize, "FSTRING_MIDDLE", None)  # Python 3.12+
_BEFORE_STATEMENT = {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
_SKIPPED = {tokenize.NL, tokenize.COMMENT}


def whole(value: str) -> Shape | None:
    """The shape a literal wholly is (``"sk-ant-..."``), if it is one."""
    text = value.strip()
    return next((s for s in SHAPES if s.whole and s.pattern.fullmatch(text)), None)


@dataclass(frozen=True, slots=True)
class Finding:
    """A credential in a cell: its line, where it starts (line, UTF-8 column of the
    token holding it), its shape and the masked prefix shown for it."""

    line: int
    start: tuple[int, int]
    shape: Shape
    shown: str
    place: str  # "a comment", "a docstring", "an f-string", "a string", ...


def _matches(text: str) -> Iterator[tuple[Shape, re.Match[str]]]:
    """Each credential in ``text`` once, in order: where shapes overlap (``x-api-key:
    sk-...``) the first of ``SHAPES`` (the vendor's) names it."""
    taken: list[tuple[Shape, re.Match[str]]] = []
    for shape in SHAPES:
        for match in shape.pattern.finditer(text):
            if all(match.end() <= m.start() or m.end() <= match.start() for _, m in taken):
                taken.append((shape, match))
    yield from sorted(taken, key=lambda found: found[1].start())


def scan_text(text: str, place: str) -> list[Finding]:
    """The credentials in plain text (a ``%%agent_def`` YAML body), line by line."""
    found = []
    for number, line in enumerate(text.split("\n"), 1):
        for shape, match in _matches(line):
            found.append(Finding(number, (number, 0), shape, _mask(match), place))
    return found


def _mask(match: re.Match[str]) -> str:
    """``sk-ant-…``, ``Bearer …``, ``Authorization: …``: the prefix, never the secret."""
    prefix = match.group("prefix")
    word = re.sub(r"[\"'\s:=]+$", "", prefix)
    return word + (": …" if word != prefix.strip() else " …" if word != prefix else "…")


def _place(tokens: list[tokenize.TokenInfo], index: int) -> str:
    token = tokens[index]
    if token.type == tokenize.COMMENT:
        return "a comment"
    if token.type != tokenize.STRING:
        return "an f-string"
    prefix = re.match(r"[A-Za-z]*", token.string)
    if prefix is not None and "f" in prefix.group().lower():
        return "an f-string"
    before = next((t for t in reversed(tokens[:index]) if t.type not in _SKIPPED), None)
    after = next((t for t in tokens[index + 1 :] if t.type not in _SKIPPED), None)
    alone = before is None or before.type in _BEFORE_STATEMENT
    if alone and (after is None or after.type in (tokenize.NEWLINE, tokenize.ENDMARKER)):
        return "a docstring"
    return "a string"


def scan_code(python: str, lines: Iterable[int] | None = None) -> list[Finding]:
    """The credentials in the comments and string tokens of ``python`` (which parses),
    on ``lines`` only when given."""
    wanted = None if lines is None else set(lines)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(python).readline))
    except (tokenize.TokenError, SyntaxError):  # pragma: no cover - the cell compiled
        return [f for f in scan_text(python, "the code") if wanted is None or f.line in wanted]
    source = python.split("\n")
    kinds = {tokenize.COMMENT, tokenize.STRING, _FSTRING_MIDDLE} - {None}
    found = []
    for index, token in enumerate(tokens):
        if token.type not in kinds:
            continue
        row, col = token.start
        start = (row, len(source[row - 1][:col].encode()))
        for shape, match in _matches(token.string):
            line = row + token.string.count("\n", 0, match.start())
            if wanted is None or line in wanted:
                found.append(Finding(line, start, shape, _mask(match), _place(tokens, index)))
    return found


def allow_problems(keys: Iterable[str]) -> list[str]:
    """Why ``--allow-secret`` values are not credential kinds nor CELL:LINE locations;
    a value is echoed only if it is short and no credential."""
    problems = []
    for key in keys:
        if key in KINDS or _LOCATION.match(key):
            continue
        shown = key if len(key) <= 16 and not any(_matches(key)) else key[:3] + "…"
        problems.append(
            f"--allow-secret {shown!r} is neither a credential kind ({', '.join(KINDS)}) nor "
            "a CELL:LINE such as 3:12 (as the refusal names it); never pass the secret itself"
        )
    return problems
