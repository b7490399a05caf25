"""The span recorder: one span per run, model call, tool call and approval wait.

A ``RunTrace`` watches the events of one run (``observe``), builds each finished span as
one plain tuple (``SpanRow``, fields in ``SPAN_FIELDS`` order: the schema is in
``agno_nb.spans``) and, when the run ends or pauses, hands its rows to the sinks in one
call: the store (``Store.record_spans``, written in batches by the store thread) and, if
configured, the OTLP exporter. Nothing here imports pandas, pyarrow or duckdb.

Spans carry OpenInference names (``spans.openinference_attributes`` maps a row to them). A run
that pauses and is continued later, in any process, stays one trace: its ``trace_id`` and
root span id are stored on the run row. The root (AGENT) span covers the whole run and is
written once the run is over; model (LLM) and tool (TOOL) spans are written at the end of
each segment; an approval wait (CHAIN) is written by the process that continues the run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from agno_nb import events as ev
from agno_nb._scrub import current, remember_secret
from agno_nb.pricing import cost
from agno_nb.spans import SpanRow, new_span_id, new_trace_id, ns_of

if TYPE_CHECKING:
    from agno_nb._runspec import RunSpec
    from agno_nb.messages import Message
    from agno_nb.run import RunOutput

__all__ = ["RunTrace", "Tracing", "flush_exports", "otlp_endpoint", "start_trace"]

Tracing = bool | Literal["otlp"]
Sink = Callable[[list[SpanRow]], None]

MAX_VALUE = 8000
"""input.value / output.value longer than this are cut (with a note of the full length)."""

_UNDER_ROOT = "\0"  # the default parent: the run's root span


def _cut(text: str) -> str:
    if len(text) <= MAX_VALUE:
        return text
    return f"{text[:MAX_VALUE]}... [cut: {len(text)} characters]"


def _value(value: Any) -> str | None:
    """A tool argument, result or run content as the text of a span attribute."""
    if value is None:
        return None
    if isinstance(value, str):
        return _cut(value)
    if hasattr(value, "model_dump_json"):
        return _cut(value.model_dump_json())
    return _cut(json.dumps(value, default=str, ensure_ascii=False))


def _json(value: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in value.items() if v is not None}, default=str)


def _message_value(message: Message) -> str:
    """A request's last message or a response, as text (plain text when it is only text)."""
    parts = message.parts
    if all(p.kind == "text" for p in parts):
        return _cut("".join(p.text for p in parts))  # type: ignore[union-attr]
    return _cut(json.dumps([p.to_dict() for p in parts], default=str, ensure_ascii=False))


def otlp_endpoint(tracing: Tracing) -> str | None:
    """Where spans are exported: ``$AGNO_NB_OTLP_ENDPOINT``, the standard OTel variables,
    or (``tracing="otlp"``) the OTLP/HTTP default on localhost; None: no export."""
    env = os.environ
    if url := env.get("AGNO_NB_OTLP_ENDPOINT"):
        return url if url.rstrip("/").endswith("/v1/traces") else url.rstrip("/") + "/v1/traces"
    if url := env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return url
    if url := env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return url.rstrip("/") + "/v1/traces"
    return "http://localhost:4318/v1/traces" if tracing == "otlp" else None


def flush_exports(timeout: float | None = 10.0) -> bool:
    """Wait until the spans queued for an OTLP collector were sent; False on timeout."""
    import sys

    otlp = sys.modules.get("agno_nb._otlp")
    return True if otlp is None else bool(otlp.flush(timeout))


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        import logging

        logging.getLogger("agno_nb.tracing").warning(message)


def start_trace(spec: RunSpec, run: RunOutput) -> RunTrace | None:
    """The trace of one run segment, or None when nothing would receive its spans."""
    tracing: Tracing = spec.tracing
    if not tracing:
        return None
    sinks: list[Sink] = []
    if spec.store is not None:
        sinks.append(spec.store.record_spans)
    endpoint = otlp_endpoint(tracing)
    if endpoint is not None:
        from agno_nb._otlp import exporter
        from agno_nb.exceptions import ConfigError

        try:
            sinks.append(exporter(endpoint).export)
        except ConfigError:
            if tracing == "otlp":  # asked for explicitly: say what is missing
                raise
            _warn_once(f"an OTLP endpoint is set ({endpoint}) but the OpenTelemetry "
                       "exporter is not installed: pip install 'agno-nb[otel]'")  # fmt: skip
    if not sinks:
        return None
    for secret in spec.model.secrets():
        remember_secret(secret)
    return RunTrace(spec, run, sinks)


class RunTrace:
    """The spans of one run segment (start or continue to pause or end)."""

    __slots__ = ("_ended", "_llm", "_rows", "_run", "_scrub", "_sinks", "_spec", "_tools")

    def __init__(self, spec: RunSpec, run: RunOutput, sinks: list[Sink]) -> None:
        if run.trace_id is None:
            run.trace_id = new_trace_id()
        if run.root_span_id is None:
            run.root_span_id = new_span_id()
        self._spec = spec
        self._run = run
        self._sinks = sinks
        self._scrub = current().text
        self._rows: list[SpanRow] = []
        self._llm: tuple[int, str] | None = None
        self._tools: dict[str, tuple[int, str]] = {}
        self._ended = False

    def _row(
        self, span_id: str, name: str, kind: str, start: int, end: int, status: str,
        message: str | None = None, *, parent: str | None = _UNDER_ROOT, model: str | None = None,
        tool: str | None = None, tokens: tuple[int, int, int, int] | None = None,
        costs: tuple[float, float, float] | None = None, inp: str | None = None,
        out: str | None = None, error_type: str | None = None, extra: str | None = None,
    ) -> None:  # fmt: skip
        run, scrub = self._run, self._scrub
        message, inp, out = message and scrub(message), inp and scrub(inp), out and scrub(out)
        extra = extra and scrub(extra)
        pt, ct, cr, cw = tokens or (None, None, None, None)
        cp, cc, total = costs or (None, None, None)
        self._rows.append((
            run.trace_id, span_id, run.root_span_id if parent == _UNDER_ROOT else parent, name,
            kind, start, end, status, message, run.run_id, run.session_id, run.user_id,
            run.agent_id, model, tool, pt, ct, cr, cw, cp, cc, total, inp, out, error_type, extra,
        ))  # fmt: skip

    def observe(self, event: ev.RunEvent) -> None:
        """Take note of one event of the run (cheap for the frequent ``RunContent``)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    # -- handlers ------------------------------------------------------------------------

    def _model_started(self, event: Any) -> None:
        self._llm = (time.time_ns(), _message_value(self._run.messages[-1]))

    def _model_completed(self, event: ev.ModelRequestCompleted) -> None:
        if self._llm is None:
            return
        (start, inp), self._llm = self._llm, None
        cr, cw = event.cache_read_tokens, event.cache_write_tokens
        prompt = event.input_tokens + cr + cw
        priced = cost(event.model, event.input_tokens, event.output_tokens, cr, cw)
        stop = event.stop_reason
        extra = f'{{"llm.stop_reason": "{stop}"}}' if stop and stop.isidentifier() else None
        costs = None
        if priced is not None:
            costs = (priced.prompt, priced.completion, priced.total)
            if cr or cw:
                extra = _json({
                    "llm.stop_reason": stop, "llm.cost.prompt_details.input": priced.input,
                    "llm.cost.prompt_details.cache_read": priced.cache_read,
                    "llm.cost.prompt_details.cache_write": priced.cache_write,
                })  # fmt: skip
        self._row(
            new_span_id(), f"chat {event.model}", "LLM", start, time.time_ns(), "OK",
            model=event.model, tokens=(prompt, event.output_tokens, cr, cw), costs=costs,
            inp=inp, out=_message_value(self._run.messages[-1]), extra=extra,
        )  # fmt: skip

    def _tool_started(self, event: ev.ToolCallStarted) -> None:
        self._tools[event.tool.id] = (time.time_ns(), event.tool.name)

    def _tool_ended(self, event: ev.ToolCallCompleted | ev.ToolCallError) -> None:
        execution = event.tool
        started = self._tools.pop(execution.id, None)
        if started is None:  # rejected or expired: never ran (its approval span tells why)
            return
        start = started[0]
        extra: dict[str, Any] = {}
        tool = self._spec.tools_by_name.get(execution.name)
        if tool is not None and tool.metadata:
            extra.update({f"tool.metadata.{k}": v for k, v in tool.metadata.items()})
        if execution.approval_id:
            extra["approval.id"] = execution.approval_id
            extra["tool_call.id"] = execution.id
        failed = execution.is_error
        self._row(
            new_span_id(), f"execute_tool {execution.name}", "TOOL", start, time.time_ns(),
            "ERROR" if failed else "OK", execution.error if failed else None,
            tool=execution.name, inp=_value(execution.args),
            out=None if failed else _value(execution.result),
            error_type=(execution.error_type or "ToolError") if failed else None,
            extra=_json(extra) if extra else None,
        )  # fmt: skip

    def _continued(self, event: ev.RunContinued) -> None:
        now = time.time_ns()
        for a in self._run.approvals:
            ended = a.decided_at or a.expires_at
            end = ns_of(ended) if ended is not None else now
            failed = a.status == "expired"
            extra = {
                "approval.id": a.approval_id, "approval.status": a.status,
                "approval.required_role": a.required_role, "approval.requested_by": a.requested_by,
                "approval.decided_by": a.decided_by, "approval.reason": a.reason,
                "tool_call.id": a.tool_call_id,
            }  # fmt: skip
            self._row(
                new_span_id(), f"await_approval {a.tool_name}", "CHAIN", ns_of(a.requested_at),
                max(end, ns_of(a.requested_at)), "ERROR" if failed else "OK",
                a.reason if failed else None, tool=a.tool_name, inp=_value(a.args),
                out=_value(a.edited_args) if a.edited_args is not None else a.status,
                error_type="ApprovalExpired" if failed else None, extra=_json(extra),
            )  # fmt: skip

    def _paused(self, event: ev.RunPaused) -> None:
        self._hand_over()

    def _completed(self, event: ev.RunCompleted) -> None:
        self._end_root()

    def _failed(self, event: ev.RunError) -> None:
        exc = event.exception
        if self._llm is not None:
            (start, inp), self._llm = self._llm, None
            self._row(
                new_span_id(), f"chat {self._spec.model.id}", "LLM", start, time.time_ns(),
                "ERROR", event.error, model=self._spec.model.id, inp=inp,
                error_type=type(exc).__name__ if exc is not None else event.error_type,
            )  # fmt: skip
        self._end_root()

    # -- ending ----------------------------------------------------------------------------

    def _end_root(self) -> None:
        run = self._run
        now = time.time_ns()
        for start, name in self._tools.values():
            self._row(
                new_span_id(), f"execute_tool {name}", "TOOL", start, now, "ERROR",
                f"the run ended ({run.status}) during the call", tool=name,
                error_type=run.error_type or "Cancelled",
            )  # fmt: skip
        self._tools.clear()
        ok = run.status == "completed"
        end = ns_of(run.finished_at) if run.finished_at is not None else now
        message = None if ok else run.error or str(run.status)
        assert run.root_span_id is not None
        self._row(
            run.root_span_id, f"invoke_agent {run.agent_name}", "AGENT", ns_of(run.created_at),
            end, "OK" if ok else "ERROR", message, parent=None, inp=_value(run.input),
            out=_value(run.content), error_type=None if ok else run.error_type or "Cancelled",
        )  # fmt: skip
        self._hand_over()

    def _hand_over(self) -> None:
        self._ended = True
        rows, self._rows = self._rows, []
        if rows:
            for sink in self._sinks:
                sink(rows)

    def close(self) -> None:
        """The run's event stream ended: write what is left (a cancelled or broken run)."""
        if not self._ended:
            self._llm = None
            self._end_root()


_HANDLERS: dict[type, Callable[[RunTrace, Any], None]] = {
    ev.ModelRequestStarted: RunTrace._model_started,
    ev.ModelRequestCompleted: RunTrace._model_completed,
    ev.ToolCallStarted: RunTrace._tool_started,
    ev.ToolCallCompleted: RunTrace._tool_ended,
    ev.ToolCallError: RunTrace._tool_ended,
    ev.RunContinued: RunTrace._continued,
    ev.RunPaused: RunTrace._paused,
    ev.RunCompleted: RunTrace._completed,
    ev.RunError: RunTrace._failed,
}
