"""Secrets never reach a span: the scrubber that every span sink applies.

It replaces with ``[REDACTED]``: the values (8 characters or more) of environment
variables whose names contain ``KEY``, ``TOKEN`` or ``SECRET``; the API keys of the
models that ran (``remember_secret``); and anything that looks like a key (``sk-...``),
a bearer token (``Bearer ...``) or an ``Authorization`` / ``x-api-key`` header value.
The recorder scrubs each text when it builds a span, so no sink ever sees a secret.
``current()`` notices a changed environment (a key set after import is scrubbed too).

Speed: a text is searched with ``str`` methods (C speed) for the secrets and for the few
substrings the patterns need; the regular expression only runs on a text that has one.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["REDACTED", "Scrubber", "current", "remember_secret"]

REDACTED = "[REDACTED]"
MIN_SECRET = 8

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET", re.IGNORECASE)
_PATTERN = re.compile(
    r"(?P<key>\bsk-[A-Za-z0-9_\-]{8,})"
    r"|(?P<prefix>\b(?i:bearer|authorization:|x-api-key:)\s*)(?P<value>[^\s\"',;}]{8,})"
)
_known: set[str] = set()
_lock = threading.Lock()
_cached: tuple[tuple[Any, int], Scrubber] | None = None


def remember_secret(value: str | None) -> None:
    """Scrub ``value`` from every span from now on (e.g. a model's explicit api_key)."""
    if value and len(value) >= MIN_SECRET and value not in _known:
        with _lock:
            _known.add(value)


def _replace(match: re.Match[str]) -> str:
    return REDACTED if match.group("key") else match.group("prefix") + REDACTED


@dataclass(frozen=True, slots=True)
class Scrubber:
    """Removes one set of secrets (longest first) and the secret-looking patterns."""

    secrets: tuple[str, ...]

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        if (
            "sk-" in value or "earer" in value or "EARER" in value or "uthoriz" in value
            or "UTHORIZ" in value or "pi-key" in value or "PI-KEY" in value
            or "pi-Key" in value
        ):  # fmt: skip
            value = _PATTERN.sub(_replace, value)
        return value


def current() -> Scrubber:
    """The scrubber for the secrets known now (re-read when the environment changed)."""
    global _cached
    data = getattr(os.environ, "_data", None)  # CPython's own dict: a cheap change check
    stamp = (tuple(data.values()) if isinstance(data, dict) else None, len(_known))
    cached = _cached
    if cached is not None and stamp[0] is not None and cached[0] == stamp:
        return cached[1]
    found = {v for k, v in os.environ.items() if len(v) >= MIN_SECRET and _SECRET_NAME.search(k)}
    scrubber = Scrubber(tuple(sorted(found | _known, key=lambda s: (-len(s), s))))
    _cached = (stamp, scrubber)
    return scrubber
