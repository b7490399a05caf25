"""The span schema: what a finished span is, shared by its producer and its sinks.

A span is one plain tuple (``SpanRow``), its values in ``SPAN_FIELDS`` order; the store's
``spans`` table has those columns (``extra``, JSON text, becomes ``attributes``). The
recorder (``tracing``) builds rows, the store writes them (``storage``, which also writes
the root span of a run whose process died), the OTLP exporter (``_otlp``) sends them.
``openinference_attributes`` names a row's values as OpenInference attributes.

A leaf: it imports the standard library only, so every one of them can import it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "SPAN_FIELDS",
    "SpanRow",
    "new_span_id",
    "new_trace_id",
    "ns_of",
    "openinference_attributes",
]

SpanRow = tuple[Any, ...]
"""One finished span: the values of ``SPAN_FIELDS``; ``extra`` is JSON text or None."""

SPAN_FIELDS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "start_ns", "end_ns", "status",
    "status_message", "run_id", "session_id", "user_id", "agent_id", "model", "tool_name",
    "prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_write_tokens",
    "cost_prompt_usd", "cost_completion_usd", "cost_usd", "input_value", "output_value",
    "error_type", "extra",
)  # fmt: skip
"""The fields of a ``SpanRow``; the store's ``spans`` columns follow them."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_rand = random.Random()


def new_trace_id() -> str:
    """A random 128-bit trace id, as OpenTelemetry writes it (32 hex digits, never 0)."""
    return f"{_rand.getrandbits(128) or 1:032x}"


def new_span_id() -> str:
    """A random 64-bit span id (16 hex digits, never 0)."""
    return f"{_rand.getrandbits(64) or 1:016x}"


def ns_of(at: datetime) -> int:
    """``at`` in nanoseconds since the epoch (exact, unlike ``timestamp()``)."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def openinference_attributes(row: Sequence[Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    """The OpenInference attributes of a span row (None values left out)."""
    (_, _, _, _, kind, _, _, status, message, _, session_id, user_id, _, model, tool,
     pt, ct, cr, cw, cp, cc, total, inp, out, error_type, _) = row  # fmt: skip
    attrs: dict[str, Any] = {
        "openinference.span.kind": kind, "session.id": session_id, "user.id": user_id,
        "llm.model_name": model, "tool.name": tool, "input.value": inp, "output.value": out,
        "llm.token_count.prompt": pt, "llm.token_count.completion": ct,
        "llm.token_count.total": None if pt is None else pt + (ct or 0),
        "llm.token_count.prompt_details.cache_read": cr,
        "llm.token_count.prompt_details.cache_write": cw,
        "llm.cost.prompt": cp, "llm.cost.completion": cc, "llm.cost.total": total,
    }  # fmt: skip
    if kind == "TOOL":
        attrs["tool.parameters"] = inp
    elif kind == "AGENT":
        attrs["agent.name"] = row[3].removeprefix("invoke_agent ")
    if status == "ERROR":
        attrs["exception.type"] = error_type
        attrs["exception.message"] = message
    if extra:
        attrs.update(extra)
    return {k: v for k, v in attrs.items() if v is not None}
