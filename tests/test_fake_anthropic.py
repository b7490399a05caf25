"""Tests of the fake Anthropic server against the real ``anthropic`` SDK."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import (
    Message,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    TextBlock,
    TextDelta,
    ToolUseBlock,
)
from pydantic import TypeAdapter

from agno_nb.testing.fake_anthropic import (
    FakeAnthropic,
    RecordedRequest,
    ToolCall,
    Turn,
    default_handler,
)

MODEL = "claude-sonnet-4-6"
HI: list[Any] = [{"role": "user", "content": "hi"}]
LOOKUP_TOOL: dict[str, Any] = {
    "name": "lookup",
    "description": "Look a record up.",
    "input_schema": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "flag": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "mode": {"type": "string", "enum": ["fast", "slow"]},
        },
        "required": ["name"],
    },
}
STREAM_EVENT = TypeAdapter[RawMessageStreamEvent](RawMessageStreamEvent)
EVENT_CLASSES: dict[str, type[Any]] = {
    "message_start": RawMessageStartEvent,
    "content_block_start": RawContentBlockStartEvent,
    "content_block_delta": RawContentBlockDeltaEvent,
    "content_block_stop": RawContentBlockStopEvent,
    "message_delta": RawMessageDeltaEvent,
    "message_stop": RawMessageStopEvent,
}
Connect = Callable[..., anthropic.AsyncAnthropic]
Serve = Callable[[FakeAnthropic], anthropic.Anthropic]


@pytest.fixture(params=["in_process", "socket"])
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Connect]:
    """Make an ``AsyncAnthropic`` for a fake: in-process, or over real loopback HTTP."""
    started: list[FakeAnthropic] = []
    clients: list[anthropic.AsyncAnthropic] = []

    def make(fake: FakeAnthropic, **options: Any) -> anthropic.AsyncAnthropic:
        options.setdefault("max_retries", 0)
        if request.param == "in_process":
            options["http_client"] = fake.async_client()
        else:
            started.append(fake)
            options["base_url"] = fake.start()
        clients.append(anthropic.AsyncAnthropic(api_key="test", **options))
        return clients[-1]

    yield make
    for client in clients:
        await client.close()
    for fake in started:
        fake.stop()


@pytest.fixture
def served() -> Iterator[Serve]:
    """Make a sync ``Anthropic`` client for a fake served on a real socket."""
    started: list[FakeAnthropic] = []
    clients: list[anthropic.Anthropic] = []

    def make(fake: FakeAnthropic) -> anthropic.Anthropic:
        started.append(fake)
        clients.append(anthropic.Anthropic(api_key="test", base_url=fake.start(), max_retries=0))
        return clients[-1]

    yield make
    for client in clients:
        client.close()
    for fake in started:
        fake.stop()


async def create(client: anthropic.AsyncAnthropic, **options: Any) -> Any:
    """``messages.create`` with defaults for the required arguments."""
    options.setdefault("messages", HI)
    return await client.messages.create(model=MODEL, max_tokens=256, **options)


async def collect(stream: AsyncIterator[Any], into: list[Any]) -> None:
    """Append every item of ``stream`` to ``into`` (so a test can see items before an error)."""
    async for item in stream:
        into.append(item)


def text_deltas(events: list[Any]) -> list[str]:
    """The text of every ``text_delta`` among SDK stream events."""
    return [
        e.delta.text
        for e in events
        if isinstance(e, RawContentBlockDeltaEvent) and isinstance(e.delta, TextDelta)
    ]


def first_text(message: Message) -> str:
    """The text of the first content block, which must be a text block."""
    block = message.content[0]
    assert isinstance(block, TextBlock)
    return block.text


def parse_sse(raw: str) -> list[tuple[str, dict[str, Any]]]:
    """Split an SSE body into ``(event name, JSON data)`` pairs."""
    events = []
    for chunk in raw.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


async def raw_post(fake: FakeAnthropic, body: Any, headers: dict[str, str] | None = None) -> Any:
    """POST ``body`` to ``/v1/messages`` in-process, outside the SDK."""
    sent = {"x-api-key": "test"} if headers is None else headers
    async with fake.async_client() as http:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await http.post("/v1/messages", content=content, headers=sent)


def body(**extra: Any) -> dict[str, Any]:
    """A valid Messages request body."""
    return {"model": MODEL, "max_tokens": 64, "messages": HI, **extra}


# --- wire format ---------------------------------------------------------------------------


async def test_raw_sse_events_validate_against_sdk_types() -> None:
    turn = Turn.tool_calls(
        [("lookup", {"name": "ada", "nested": {"a": [1, 2, 3]}}), ToolCall("count", {}, "toolu_x")],
        reply="Let me look that up for you right now.",
    )
    response = await raw_post(FakeAnthropic([turn]), body(stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 3
    for name, data in events:
        assert data["type"] == name
        if name != "ping":
            assert isinstance(STREAM_EVENT.validate_python(data, strict=True), EVENT_CLASSES[name])
    start = events[0][1]["message"]
    assert (start["content"], start["stop_reason"], start["stop_sequence"]) == ([], None, None)
    assert (start["type"], start["role"], start["model"]) == ("message", "assistant", MODEL)
    assert start["id"].startswith("msg_")
    usage_keys = {"input_tokens", "output_tokens", "cache_creation_input_tokens"}
    assert usage_keys | {"cache_read_input_tokens"} <= set(start["usage"])
    deltas = [data for name, data in events if name == "content_block_delta"]
    pieces = [data["delta"]["partial_json"] for data in deltas if data["index"] == 1]
    assert pieces[0] == ""
    assert len(pieces) > 2
    assert json.loads("".join(pieces)) == {"name": "ada", "nested": {"a": [1, 2, 3]}}
    final = events[-2][1]
    assert final["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert final["usage"]["output_tokens"] >= 1


async def test_json_response_validates_as_message() -> None:
    fake = FakeAnthropic([Turn.tool_call("lookup", {"q": "x"}, reply="Looking.")])
    response = await raw_post(fake, body())
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    message = Message.model_validate(response.json(), strict=True)
    assert [type(block) for block in message.content] == [TextBlock, ToolUseBlock]
    assert (message.stop_reason, message.stop_sequence) == ("tool_use", None)
    usage = message.usage
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)
    tool = message.content[1]
    assert isinstance(tool, ToolUseBlock)
    assert tool.id.startswith("toolu_")


async def test_sdk_stream_yields_typed_events(connect: Connect) -> None:
    client = connect(FakeAnthropic([Turn.text("one two three four five six seven eight nine")]))
    events: list[Any] = []
    await collect(await create(client, stream=True), events)
    assert [type(e) for e in events[:2]] == [RawMessageStartEvent, RawContentBlockStartEvent]
    text = "one two three four five six seven eight nine"
    assert text_deltas(events) == ["one two three ", "four five six ", "seven eight nine"]
    start, end = events[0], events[-2]
    assert start.message.content == []
    assert start.message.usage.input_tokens >= 1
    assert isinstance(end, RawMessageDeltaEvent)
    assert end.delta.stop_reason == "end_turn"
    assert end.usage.output_tokens == len(text) // 4
    assert isinstance(events[-1], RawMessageStopEvent)


async def test_sdk_non_streaming_message(connect: Connect) -> None:
    client = connect(FakeAnthropic([Turn.text(["Hel", "lo"])]))
    message = await create(client)
    assert isinstance(message, Message)
    assert first_text(message) == "Hello"
    assert message.model == MODEL
    assert message.id.startswith("msg_")


async def test_explicit_chunks_are_sent_as_given(connect: Connect) -> None:
    client = connect(FakeAnthropic([Turn.text(["a", "b c", " d"])]))
    events: list[Any] = []
    await collect(await create(client, stream=True), events)
    assert text_deltas(events) == ["a", "b c", " d"]


async def test_stream_assembles_several_tool_calls(connect: Connect) -> None:
    calls = [ToolCall("lookup", {"name": "ada", "ids": [1, 2]}, "toolu_1"), ToolCall("now", {})]
    client = connect(FakeAnthropic([Turn.tool_calls(calls, reply="Checking.")]))
    async with client.messages.stream(model=MODEL, max_tokens=64, messages=HI) as stream:
        message = await stream.get_final_message()
    assert first_text(message) == "Checking."
    first, second = message.content[1:]
    assert isinstance(first, ToolUseBlock)
    assert isinstance(second, ToolUseBlock)
    assert (first.id, first.name) == ("toolu_1", "lookup")
    assert first.input == {"name": "ada", "ids": [1, 2]}
    assert (second.name, second.input) == ("now", {})
    assert second.id.startswith("toolu_")
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize(
    ("turn", "stop_reason", "stop_sequence"),
    [
        (Turn.text("cut", stop_reason="max_tokens"), "max_tokens", None),
        (Turn.text("to", stop_reason="stop_sequence", stop_sequence="END"), "stop_sequence", "END"),
        (Turn.text("no", stop_reason="refusal"), "refusal", None),
        (Turn.tool_call("lookup", {}), "tool_use", None),
        (Turn.text("fine"), "end_turn", None),
    ],
)
async def test_stop_reason(
    connect: Connect, turn: Turn, stop_reason: str, stop_sequence: str | None
) -> None:
    client = connect(FakeAnthropic([turn, turn]))
    message = await create(client)
    async with client.messages.stream(model=MODEL, max_tokens=64, messages=HI) as stream:
        streamed = await stream.get_final_message()
    for result in (message, streamed):
        assert (result.stop_reason, result.stop_sequence) == (stop_reason, stop_sequence)


async def test_usage_override_and_estimate(connect: Connect) -> None:
    usage = {"input_tokens": 100, "output_tokens": 7, "cache_read_input_tokens": 40}
    overridden = Turn.text("x", cache_creation_input_tokens=5, **usage)
    client = connect(FakeAnthropic([overridden, Turn.text("y" * 40)]))
    async with client.messages.stream(model=MODEL, max_tokens=64, messages=HI) as stream:
        first = (await stream.get_final_message()).usage
    assert (first.input_tokens, first.output_tokens) == (100, 7)
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (5, 40)
    second = (await create(client, system="Be brief.")).usage
    prompt = json.dumps([HI, "Be brief.", []])
    assert (second.input_tokens, second.output_tokens) == (len(prompt) // 4, 10)


async def test_models_list(connect: Connect) -> None:
    page = await connect(FakeAnthropic()).models.list()
    assert [model.id for model in page.data] == ["claude-fake-1"]


# --- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
    ],
)
async def test_error_status_raises_sdk_error(
    connect: Connect, status: int, error_class: type[anthropic.APIStatusError], error_type: str
) -> None:
    client = connect(FakeAnthropic([Turn.error(status, "scripted failure")]))
    with pytest.raises(error_class) as caught:
        await create(client)
    assert caught.value.status_code == status
    assert caught.value.body == {
        "type": "error",
        "error": {"type": error_type, "message": "scripted failure"},
    }
    expected_retry_after = "0" if status in (429, 529) else None
    assert caught.value.response.headers.get("retry-after") == expected_retry_after


async def test_streaming_request_gets_http_error_too(connect: Connect) -> None:
    client = connect(FakeAnthropic([Turn.error(529)]))
    with pytest.raises(anthropic.OverloadedError):
        async with client.messages.stream(model=MODEL, max_tokens=64, messages=HI) as stream:
            await stream.get_final_message()


async def test_retried_429_then_success(connect: Connect) -> None:
    fake = FakeAnthropic([Turn.error(429), Turn.text("ok")])
    message = await create(connect(fake, max_retries=1))
    assert first_text(message) == "ok"
    assert len(fake.requests) == 2
    assert fake.turns_left == 0


async def test_mid_stream_error_event(connect: Connect) -> None:
    turn = Turn.text("one two three four five six", error_after=4, error_message="boom")
    client = connect(FakeAnthropic([turn]))
    events: list[Any] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        await collect(await create(client, stream=True), events)
    assert type(caught.value) is anthropic.APIStatusError
    assert caught.value.status_code == 200
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "boom"},
    }
    # Sent: message_start, ping (the SDK skips it), content_block_start, one text delta.
    seen = [e.type for e in events]
    assert seen == ["message_start", "content_block_start", "content_block_delta"]


# A body cut short is httpx2's RemoteProtocolError: raised as is by the SDK up to 2.16, as
# the cause of an APIConnectionError from 2.17 on.
_CUT_SHORT = (httpx2.RemoteProtocolError, anthropic.APIConnectionError)


def _assert_cut_short(exc: BaseException) -> None:
    cause = exc if isinstance(exc, httpx2.RemoteProtocolError) else exc.__cause__
    assert isinstance(cause, httpx2.RemoteProtocolError), repr(exc)
    assert "incomplete chunked read" in str(cause)


@pytest.mark.timeout(30)
async def test_truncated_stream_raises_remote_protocol_error(connect: Connect) -> None:
    turn = Turn.text("a b c d e f g h", truncate_after=4, chunk_delay=0.01)
    client = connect(FakeAnthropic([turn]))
    events: list[Any] = []
    with pytest.raises(_CUT_SHORT) as caught:
        await collect(await create(client, stream=True), events)
    _assert_cut_short(caught.value)
    assert "message_stop" not in [e.type for e in events]


@pytest.mark.timeout(30)
async def test_truncated_stream_in_message_stream_helper(connect: Connect) -> None:
    client = connect(FakeAnthropic([Turn.tool_call("lookup", {"q": "long"}, truncate_after=5)]))
    with pytest.raises(_CUT_SHORT) as caught:
        async with client.messages.stream(model=MODEL, max_tokens=64, messages=HI) as stream:
            await stream.get_final_message()
    _assert_cut_short(caught.value)


@pytest.mark.timeout(30)
async def test_slow_response_times_out(connect: Connect) -> None:
    client = connect(FakeAnthropic([Turn.text("late", delay=3.0)]))
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        await create(client, timeout=0.2)
    assert time.monotonic() - started < 2.0


@pytest.mark.timeout(30)
def test_chunk_delay_paces_events_on_a_socket(served: Serve) -> None:
    client = served(FakeAnthropic([Turn.text(["a", "b", "c", "d"], chunk_delay=0.05)]))
    arrivals = []
    started = time.monotonic()
    for _event in client.messages.create(model=MODEL, max_tokens=64, messages=HI, stream=True):
        arrivals.append(time.monotonic() - started)
    # 9 events, 8 pauses of 50 ms; they arrive spread out, not all at the end.
    assert arrivals[0] < 0.2
    assert arrivals[-1] >= 0.35


# --- scripts, handlers, recording ----------------------------------------------------------


async def test_requests_are_recorded(connect: Connect) -> None:
    fake = FakeAnthropic([Turn.text("a"), Turn.text("b")])
    client = connect(fake)
    await create(client, system="Be brief.", tools=[LOOKUP_TOOL])
    await create(client, stream=True, messages=[{"role": "user", "content": "again"}])
    first, second = fake.requests
    assert (first.method, first.path, first.model) == ("POST", "/v1/messages", MODEL)
    assert (first.system, first.tools, first.messages) == ("Be brief.", [LOOKUP_TOOL], HI)
    assert first.stream is False
    assert first.headers["authorization"] == "Bearer test"
    assert (second.stream, second.system, second.tools) == (True, None, [])
    assert second.messages == [{"role": "user", "content": "again"}]


async def test_script_exhausted(connect: Connect) -> None:
    fake = FakeAnthropic([Turn.text("only one")])
    client = connect(fake)
    await create(client)
    with pytest.raises(anthropic.InternalServerError, match="script exhausted") as caught:
        await create(client)
    assert "request #2" in str(caught.value)
    assert fake.turns_left == 0


async def test_handler_mode(connect: Connect) -> None:
    def handler(request: RecordedRequest) -> Turn:
        return Turn.text(f"{len(request.messages)} message(s) for {request.model}")

    fake = FakeAnthropic(handler=handler)
    client = connect(fake)
    two = [*HI, {"role": "assistant", "content": "yo"}, {"role": "user", "content": "?"}]
    assert first_text(await create(client)) == f"1 message(s) for {MODEL}"
    assert first_text(await create(client, messages=two)) == f"3 message(s) for {MODEL}"


async def test_handler_exception_becomes_api_error(connect: Connect) -> None:
    def handler(request: RecordedRequest) -> Turn:
        raise KeyError("no turn for this")

    client = connect(FakeAnthropic(handler=handler))
    with pytest.raises(anthropic.InternalServerError, match="handler raised KeyError"):
        await create(client)


async def test_from_file(tmp_path: Path, connect: Connect) -> None:
    script = {
        "turns": [
            {"reply": "Look.", "calls": [{"name": "lookup", "input": {"id": 1}, "id": "toolu_9"}]},
            {"reply": ["Fo", "und."], "output_tokens": 3},
            {"status": 429, "error_message": "slow down"},
        ]
    }
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    client = connect(FakeAnthropic.from_file(path))
    tool = (await create(client)).content[1]
    assert isinstance(tool, ToolUseBlock)
    assert (tool.id, tool.input) == ("toolu_9", {"id": 1})
    async with client.messages.stream(model=MODEL, max_tokens=64, messages=HI) as stream:
        assert await stream.get_final_text() == "Found."
        assert (await stream.get_final_message()).usage.output_tokens == 3
    with pytest.raises(anthropic.RateLimitError, match="slow down"):
        await create(client)


def test_from_file_bare_list_and_unknown_field(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps([{"reply": "a"}, {"status": 500}]))
    assert FakeAnthropic.from_file(path).turns_left == 2
    path.write_text(json.dumps([{"text": "a"}]))
    with pytest.raises(ValueError, match="unknown Turn field"):
        FakeAnthropic.from_file(path)


def test_turn_constructors() -> None:
    assert Turn.text("hi") == Turn(reply="hi")
    expected = (ToolCall("f", {"a": 1}, "toolu_1"),)
    assert Turn.tool_call("f", {"a": 1}, id="toolu_1").calls == expected
    assert Turn.tool_calls([("f", {}), ToolCall("g")]).calls == (ToolCall("f"), ToolCall("g"))
    assert Turn.error(429, "no") == Turn(status=429, error_message="no")


# --- default handler -----------------------------------------------------------------------


def recorded(messages: list[Any], tools: list[Any] | None = None) -> RecordedRequest:
    """A request as the fake would record it."""
    payload = body(messages=messages, tools=tools or [])
    return RecordedRequest("POST", "/v1/messages", {}, payload)


def test_default_handler_calls_the_first_tool_with_sample_arguments() -> None:
    turn = default_handler(recorded(HI, [LOOKUP_TOOL]))
    expected = {"name": "a", "count": 1, "ratio": 1.0, "flag": True, "tags": [], "mode": "fast"}
    assert turn.calls == (ToolCall("lookup", expected),)


def test_default_handler_summarises_tool_results() -> None:
    messages = [
        *HI,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}],
        },
    ]
    turn = default_handler(recorded(messages, [LOOKUP_TOOL]))
    assert turn.calls == ()
    assert "`t1`: 42" in turn.text_value


def test_default_handler_does_not_call_tools_twice() -> None:
    messages = [
        *HI,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}],
        },
        {"role": "assistant", "content": "It is 42."},
        {"role": "user", "content": [{"type": "text", "text": "thanks"}]},
    ]
    turn = default_handler(recorded(messages, [LOOKUP_TOOL]))
    assert turn.calls == ()
    assert "_thanks_" in turn.text_value


async def test_echo_streams_markdown_in_chunks(connect: Connect) -> None:
    client = connect(FakeAnthropic.echo())
    events: list[Any] = []
    ping = [{"role": "user", "content": "ping"}]
    await collect(await create(client, stream=True, messages=ping), events)
    deltas = text_deltas(events)
    assert len(deltas) >= 4
    assert "".join(deltas).startswith("**Echo:** you said _ping_.")


# --- auth and validation -------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{"x-api-key": "k"}, {"authorization": "Bearer k"}])
async def test_auth_headers_accepted(headers: dict[str, str]) -> None:
    response = await raw_post(FakeAnthropic([Turn.text("ok")]), body(), headers)
    assert response.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer "}, {"x-api-key": ""}])
async def test_missing_key_is_401(headers: dict[str, str]) -> None:
    fake = FakeAnthropic([Turn.text("unused")])
    response = await raw_post(fake, body(), headers)
    assert response.status_code == 401
    assert response.json() == {
        "type": "error",
        "error": {
            "type": "authentication_error",
            "message": "x-api-key or Authorization: Bearer header required",
        },
    }
    assert fake.turns_left == 1
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[1, 2]",
        {"max_tokens": 5, "messages": HI},
        {"model": MODEL, "messages": HI},
        {"model": MODEL, "max_tokens": 5, "messages": []},
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]},
    ],
)
async def test_malformed_body_is_400(payload: Any) -> None:
    fake = FakeAnthropic([Turn.text("unused")])
    response = await raw_post(fake, payload)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fake.turns_left == 1


# --- serving -------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_serve_starts_fast_and_stops_cleanly() -> None:
    fake = FakeAnthropic([Turn.text("hi")])
    started = time.monotonic()
    with fake.serve() as url:
        assert time.monotonic() - started < 2.0
        assert url.startswith("http://127.0.0.1:")
        assert not url.endswith(":0")
        with pytest.raises(RuntimeError, match="already serving"):
            fake.start()
        with anthropic.Anthropic(api_key="test", base_url=url, max_retries=0) as client:
            reply = client.messages.create(model=MODEL, max_tokens=64, messages=HI)
        assert first_text(reply) == "hi"
    assert fake.url is None
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(url + "/v1/models")
    fake.stop()


@pytest.mark.timeout(30)
def test_start_on_a_busy_port_fails() -> None:
    with FakeAnthropic().serve() as url:
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match="could not start"):
            FakeAnthropic().start(port=port)


@pytest.mark.timeout(30)
def test_stop_does_not_wait_for_a_slow_turn() -> None:
    fake = FakeAnthropic([Turn.text("late", delay=10.0)])
    with fake.serve() as url:
        client = anthropic.Anthropic(api_key="test", base_url=url, max_retries=0, timeout=0.2)
        with client, pytest.raises(anthropic.APITimeoutError):
            client.messages.create(model=MODEL, max_tokens=64, messages=HI)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 2.0


@pytest.mark.timeout(30)
def test_cli_serves_a_script(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"turns": [{"reply": "from the CLI"}]}))
    command = [sys.executable, "-m", "agno_nb.testing.fake_anthropic", "--port", "0", "--script"]
    cwd = Path(__file__).resolve().parents[1]
    with subprocess.Popen([*command, str(path)], stdout=subprocess.PIPE, text=True, cwd=cwd) as p:
        try:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line.startswith("FakeAnthropic listening on http://127.0.0.1:")
            url = line.split()[-1]
            with anthropic.Anthropic(api_key="test", base_url=url, max_retries=0) as client:
                reply = client.messages.create(model=MODEL, max_tokens=64, messages=HI)
            assert first_text(reply) == "from the CLI"
        finally:
            p.terminate()
        assert p.wait(timeout=10) == 0
