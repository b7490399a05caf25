"""JSON from a client, bounded: the one parser for request bodies and for the JSON that
form fields carry (AgentOS's ``tools``).

Python's ``json`` takes more than JSON, and takes it in ways a server must not:

* nesting: its parser recurses once per level, so 100,000 nested arrays end in a
  ``RecursionError`` (and, with a raised recursion limit, in a crashed process). The
  text is checked before it is parsed: more than ``MAX_DEPTH`` levels are refused.
* ``NaN``, ``Infinity``, ``-Infinity``, and numbers past a float's range (``1e999``) that
  it turns into infinity: not JSON (RFC 8259), and values that no JSON answer can carry
  (echoed in a validation error, or stored and read back, they broke the response).
* ``"\\ud800"``: a ``\\u`` escape of half a UTF-16 surrogate pair, which it turns into
  a string that cannot be encoded (UTF-8 refuses it, and so the answer echoing it).
* integers of more than 4,300 digits: refused by Python itself (a ``ValueError``).

Each refusal is a ``JSONRefused`` (a ``ValueError``) whose message says what was wrong.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["MAX_DEPTH", "JSONRefused", "loads", "too_deep"]

MAX_DEPTH = 64
"""Arrays and objects nested deeper than this are refused."""

_KEPT = b'"[]{}'
_NOT_KEPT = bytes(b for b in range(256) if b not in _KEPT)
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_PAST_LIMIT = b"[" * (MAX_DEPTH + 1)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JSONRefused(ValueError):
    """The text is not JSON, or JSON that a request may not carry."""


def loads(raw: bytes | str, what: str = "the body") -> Any:
    """``raw`` parsed, or ``JSONRefused`` naming ``what`` and the problem."""
    try:
        text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw))
        deep = too_deep(text)
    except ValueError as exc:  # UnicodeDecodeError, and brackets that do not pair up
        raise JSONRefused(f"{what} is not valid JSON: {exc}") from None
    if deep:
        raise JSONRefused(
            f"{what} nests arrays and objects deeper than {MAX_DEPTH} levels, the limit"
        )
    try:
        value = json.loads(text, parse_constant=_not_json, parse_float=_finite)
        if _SURROGATE_ESCAPE.search(text):  # paired (an emoji), or half a pair?
            json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise JSONRefused(
            f"{what} is not valid JSON: a \\u escape holds half of a UTF-16 surrogate pair"
        ) from None
    except ValueError as exc:
        raise JSONRefused(f"{what} is not valid JSON: {exc}") from None
    return value


def too_deep(text: str) -> bool:
    """Whether arrays and objects nest deeper than ``MAX_DEPTH`` in ``text`` (brackets in
    strings do not count), found without parsing and without a loop in Python: a few
    passes of C-level bytes operations over the text, at most one per level.

    ``JSONRefused`` if the brackets do not pair up (not JSON, and the parser would recurse
    on the unclosed ones before it found out)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False  # cannot nest deeper, whatever the text is
    data = text.encode("utf-8", "surrogatepass")
    # without escaped backslashes and quotes (paired from the left, as the parser reads
    # them), the quotes left delimit the strings: every other piece is outside them
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_KEPT)
    brackets = b"".join(data.split(b'"')[::2]).translate(_AS_SQUARE)
    for _ in range(MAX_DEPTH):
        if not brackets:
            return False
        if _PAST_LIMIT in brackets:
            return True
        inner = brackets.replace(b"[]", b"")  # the innermost level, everywhere at once
        if len(inner) == len(brackets):
            raise JSONRefused("its arrays and objects are not closed in order")
        brackets = inner
    return bool(brackets)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} (NaN and infinite numbers are not JSON)")


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        _not_json(number)
    return value
