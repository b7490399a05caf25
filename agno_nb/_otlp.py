"""Sending spans to an OpenTelemetry collector over OTLP/HTTP (protobuf).

``exporter(endpoint)`` is one background thread per endpoint: ``export(rows)`` queues the
span rows of a run (no network on the run's path; the recorder scrubbed them), turns them into
OpenTelemetry SDK spans with the OpenInference attributes and posts them in batches with
``opentelemetry-exporter-otlp-proto-http`` (``pip install 'agno-nb[otel]'``). The standard
``OTEL_EXPORTER_OTLP_HEADERS`` / ``OTEL_SERVICE_NAME`` variables are honoured. Failures
are logged on ``agno_nb.tracing``, never raised into a run; ``flush()`` waits for the
queue (it also runs at interpreter exit, for up to 5 s).
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import logging
import os
import queue
import threading
from typing import Any

from agno_nb.exceptions import ConfigError
from agno_nb.spans import SPAN_FIELDS, SpanRow, openinference_attributes

__all__ = ["OTLPExporter", "exporter", "flush"]

logger = logging.getLogger("agno_nb.tracing")

_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
_EXTRA = SPAN_FIELDS.index("extra")
_MAX_BATCH = 512
_exporters: dict[str, OTLPExporter] = {}
_lock = threading.Lock()


def _attribute(value: Any) -> Any:
    if isinstance(value, str | bool | int | float):
        return value
    return json.dumps(value, default=str)


class OTLPExporter:
    """A queue and a daemon thread that post span rows to one OTLP/HTTP endpoint."""

    def __init__(self, endpoint: str) -> None:
        if importlib.util.find_spec("opentelemetry.exporter") is None or (
            importlib.util.find_spec(_MODULE) is None
        ):
            raise ConfigError(
                "tracing='otlp' (or an OTLP endpoint in the environment) needs the "
                "OpenTelemetry exporter: pip install 'agno-nb[otel]'"
            )
        self.endpoint = endpoint
        self.exported = 0
        self.failures = 0
        self._queue: queue.SimpleQueue[list[SpanRow] | threading.Event] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="agno-nb-otlp", daemon=True)
        self._thread.start()

    def export(self, rows: list[SpanRow]) -> None:
        self._queue.put(rows)

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until everything queued so far was posted (or failed); False on timeout."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _serve(self) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource

        sender = OTLPSpanExporter(endpoint=self.endpoint)
        service = os.environ.get("OTEL_SERVICE_NAME") or "agno-nb"
        resource = Resource.create({"service.name": service})
        while True:
            item = self._queue.get()
            rows: list[SpanRow] = []
            waiting: list[threading.Event] = []
            while True:
                if isinstance(item, threading.Event):
                    waiting.append(item)
                else:
                    rows.extend(item)
                if len(rows) >= _MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if rows:
                self._send(sender, resource, rows)
            for event in waiting:
                event.set()

    def _send(self, sender: Any, resource: Any, rows: list[SpanRow]) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult

        try:
            result = sender.export([self._span(row, resource) for row in rows])
        except Exception:  # a bad endpoint must never break runs
            logger.exception("exporting %d span(s) to %s failed", len(rows), self.endpoint)
            self.failures += 1
            return
        if result is SpanExportResult.SUCCESS:
            self.exported += len(rows)
        else:
            self.failures += 1
            logger.warning("could not deliver %d span(s) to %s", len(rows), self.endpoint)

    @staticmethod
    def _span(row: SpanRow, resource: Any) -> Any:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        from agno_nb import __version__

        values = row  # scrubbed already, by the recorder
        extra = json.loads(row[_EXTRA]) if row[_EXTRA] else None
        attributes = {k: _attribute(v) for k, v in openinference_attributes(values, extra).items()}
        trace_id, span_id, parent_id, name = values[0], values[1], values[2], values[3]
        flags = TraceFlags(TraceFlags.SAMPLED)
        context = SpanContext(int(trace_id, 16), int(span_id, 16), False, flags)
        parent = (
            SpanContext(int(trace_id, 16), int(parent_id, 16), False, flags) if parent_id else None
        )
        status = (
            Status(StatusCode.ERROR, values[8] or None)
            if values[7] == "ERROR"
            else Status(StatusCode.OK)
        )
        return ReadableSpan(
            name=name, context=context, parent=parent, resource=resource, attributes=attributes,
            kind=SpanKind.INTERNAL, status=status, start_time=values[5], end_time=values[6],
            instrumentation_scope=InstrumentationScope("agno_nb", __version__),
        )  # fmt: skip


def exporter(endpoint: str) -> OTLPExporter:
    """The exporter of ``endpoint`` (one per process and endpoint)."""
    found = _exporters.get(endpoint)
    if found is None:
        with _lock:
            found = _exporters.get(endpoint)
            if found is None:
                found = _exporters[endpoint] = OTLPExporter(endpoint)
    return found


def flush(timeout: float | None = 10.0) -> bool:
    """Wait until every span queued for export so far was posted; False on timeout."""
    return all(e.flush(timeout) for e in list(_exporters.values()))


atexit.register(flush, 5.0)
