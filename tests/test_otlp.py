"""OpenTelemetry export: the same spans reach an OTLP/HTTP collector (a local receiver
that decodes the protobuf requests with opentelemetry-proto)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agno_nb import Agent, Claude, TestModel, tool
from agno_nb._otlp import exporter, flush
from agno_nb.testing import FakeAnthropic, Turn

API_KEY = "sk-ant-api03-otlpSECRETvalue0123456789"


class Receiver:
    """A tiny OTLP/HTTP trace receiver on 127.0.0.1."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.resources: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/v1/traces", self.traces, methods=["POST"])])

    async def traces(self, request: Request) -> Response:
        assert request.headers["content-type"] == "application/x-protobuf"
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.body())
        for resource_spans in message.resource_spans:
            self.resources.append(_attrs(resource_spans.resource.attributes))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append({
                        "name": span.name, "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(), "parent": span.parent_span_id.hex(),
                        "status": span.status.code, "message": span.status.message,
                        "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
                        "attributes": _attrs(span.attributes), "scope": scope_spans.scope.name,
                    })  # fmt: skip
        body = ExportTraceServiceResponse().SerializeToString()
        return Response(body, media_type="application/x-protobuf")


def _attrs(pairs: Any) -> dict[str, Any]:
    out = {}
    for kv in pairs:
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which)
    return out


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    import uvicorn

    found = Receiver()
    config = uvicorn.Config(found.app, host="127.0.0.1", port=0, log_config=None,
                            log_level="warning", lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield found, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@tool
def echo_config(note: str) -> str:
    """Echo a note."""
    return f"configured with {note} and Authorization: Bearer abcdefghijkl0123"


def test_spans_reach_an_otlp_collector_with_openinference_attributes(
    receiver: tuple[Receiver, str], fake: FakeAnthropic, db_path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    found, url = receiver
    found.spans.clear()
    monkeypatch.setenv("AGNO_NB_OTLP_ENDPOINT", url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "support-desk")
    fake.reset([
        Turn.tool_call("echo_config", {"note": f"key={API_KEY}"}, input_tokens=50),
        Turn.text("done", input_tokens=60, output_tokens=3),
    ])  # fmt: skip
    model = Claude("claude-haiku-4-5", base_url=fake.url, max_retries=0)
    agent = Agent("desk", model=model, tools=[echo_config], db=db_path, tracing="otlp")
    run = agent.run("configure", session_id="s9", user_id="ana")
    assert flush(10)
    spans = {s["name"]: s for s in found.spans}
    assert set(spans) == {"invoke_agent desk", "chat claude-haiku-4-5", "execute_tool echo_config"}
    root = spans["invoke_agent desk"]
    assert root["trace_id"] == run.trace_id and root["span_id"] == run.root_span_id
    assert root["parent"] == ""
    assert {s["trace_id"] for s in found.spans} == {run.trace_id}
    assert all(s["parent"] == run.root_span_id for s in found.spans if s is not root)
    assert all(s["scope"] == "agno_nb" and s["end"] >= s["start"] for s in found.spans)
    assert found.resources[-1]["service.name"] == "support-desk"
    llm = spans["chat claude-haiku-4-5"]["attributes"]
    assert llm["openinference.span.kind"] == "LLM"
    assert llm["llm.model_name"] == "claude-haiku-4-5"
    assert llm["llm.token_count.prompt"] in (50, 60)
    assert llm["session.id"] == "s9" and llm["user.id"] == "ana"
    assert "llm.cost.total" in llm
    tool_span = spans["execute_tool echo_config"]["attributes"]
    assert tool_span["tool.name"] == "echo_config"
    assert tool_span["tool.parameters"] == '{"note": "key=[REDACTED]"}'
    assert tool_span["output.value"] == (
        "configured with key=[REDACTED] and Authorization: Bearer [REDACTED]"
    )
    everything = repr(found.spans)
    assert API_KEY not in everything and "abcdefghijkl0123" not in everything
    # the store got the same spans
    stored = agent.store.call(  # type: ignore[union-attr]
        lambda con: con.execute("SELECT span_id FROM spans ORDER BY span_id").fetchall()
    )
    assert sorted(s for (s,) in stored) == sorted(s["span_id"] for s in found.spans)


def test_the_standard_otel_endpoint_variable_turns_export_on(
    receiver: tuple[Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    found, url = receiver
    found.spans.clear()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    run = Agent("plain", model=TestModel(), db=False).run("hi")  # no store: export only
    assert flush(10)
    assert {s["trace_id"] for s in found.spans} == {run.trace_id}
    assert {s["name"] for s in found.spans} == {"invoke_agent plain", "chat test"}


def test_an_unreachable_collector_never_breaks_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGNO_NB_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    run = Agent("a", model=TestModel(), db=False, tracing="otlp").run("hi")
    assert run.status == "completed"
    assert flush(20)
    assert exporter("http://127.0.0.1:9/v1/traces").failures >= 1
