"""Claude over the real anthropic SDK, against FakeAnthropic on loopback."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading

import pytest

from agno_nb import Agent, Claude
from agno_nb.events import RunContent
from agno_nb.exceptions import (
    MissingAPIKeyError,
    ModelAPIError,
    ModelConnectionError,
    ModelError,
    ModelTimeoutError,
)
from agno_nb.models.anthropic import served_clients
from agno_nb.testing import FakeAnthropic, Turn
from agno_nb.testing.fake_anthropic import ToolCall
from tests.claude_support import claude, fail, lookup_order


def test_text_streams_as_run_content_with_usage(fake: FakeAnthropic) -> None:
    fake.reset(
        [
            Turn.text(
                "Order 42 has shipped and will arrive on Monday.",
                input_tokens=120,
                output_tokens=12,
                cache_read_input_tokens=100,
                cache_creation_input_tokens=20,
            )
        ]
    )
    agent = Agent("support", model=claude(fake), instructions="Be kind.", db=False)
    events = list(agent.run("Where is order 42?", stream=True))
    deltas = [e.content for e in events if isinstance(e, RunContent)]
    assert len(deltas) > 2
    run = events[-1].run  # type: ignore[union-attr]
    assert "".join(deltas) == run.content == "Order 42 has shipped and will arrive on Monday."
    assert (run.usage.input_tokens, run.usage.output_tokens) == (120, 12)
    assert (run.usage.cache_read_tokens, run.usage.cache_write_tokens) == (100, 20)
    assert run.stop_reason == "end_turn"
    request = fake.requests[0]
    assert request.stream is True and request.model == "claude-sonnet-4-6"
    assert request.system == "Be kind."
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.messages == [
        {"role": "user", "content": [{"type": "text", "text": "Where is order 42?"}]}
    ]


def test_several_tool_calls_in_one_turn_and_their_results(fake: FakeAnthropic) -> None:
    fake.reset(
        [
            Turn.tool_calls(
                [
                    ToolCall("lookup_order", {"order_id": "42"}, id="toolu_1"),
                    ToolCall("fail", {"reason": "no stock"}, id="toolu_2"),
                ],
                reply="Let me check.",
            ),
            Turn.text("42 shipped; the other failed."),
        ]
    )
    agent = Agent("support", model=claude(fake), tools=[lookup_order, fail], db=False)
    run = agent.run("Check 42")
    assert run.status == "completed" and run.content == "42 shipped; the other failed."
    assert [(t.name, t.args, t.status) for t in run.tool_calls] == [
        ("lookup_order", {"order_id": "42"}, "completed"),
        ("fail", {"reason": "no stock"}, "error"),
    ]
    first, second = fake.requests
    assert [t["name"] for t in first.tools] == ["lookup_order", "fail"]
    assert first.tools[0]["input_schema"]["properties"]["order_id"]["type"] == "string"
    assistant, results = second.messages[1], second.messages[2]
    assert assistant["content"][0] == {"type": "text", "text": "Let me check."}
    assert assistant["content"][1]["input"] == {"order_id": "42"}
    assert results["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": '{"id": "42", "status": "shipped"}',
            "is_error": False,
        },
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": "Tool 'fail' raised ValueError: no stock",
            "is_error": True,
        },
    ]
    assert run.usage.requests == 2


def test_max_tokens_and_refusal_stop_reasons(fake: FakeAnthropic) -> None:
    agent = Agent("a", model=claude(fake), tools=[lookup_order], db=False)
    fake.reset([Turn.text("A long answer cut", stop_reason="max_tokens")])
    run = agent.run("go")
    assert (run.status, run.stop_reason, run.content) == (
        "completed",
        "max_tokens",
        "A long answer cut",
    )
    fake.reset([Turn.text("I can't help with that.", stop_reason="refusal")])
    assert agent.run("go").stop_reason == "refusal"
    fake.reset([Turn.tool_call("lookup_order", {"order_id": "1"}, stop_reason="max_tokens")])
    with pytest.raises(ModelError, match="cut off at max_tokens"):
        agent.run("go")


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
        (400, "invalid_request_error"),
        (401, "authentication_error"),
    ],
)
def test_api_error_statuses_fail_the_run_and_keep_it_in_the_store(
    fake: FakeAnthropic, db_path: str, status: int, error_type: str
) -> None:
    fake.reset([Turn.error(status, f"scripted {status}")])
    agent = Agent("a", model=claude(fake), db=db_path)
    with pytest.raises(ModelAPIError) as err:
        agent.run("hello", session_id="s1", user_id="ana")
    assert err.value.status_code == status and err.value.error_type == error_type
    assert f"answered {status} {error_type}: scripted {status}" in str(err.value)
    stored = agent.store.get_run(err.value.run_id)  # type: ignore[union-attr,arg-type]
    assert stored is not None and stored.status == "failed"
    assert stored.error == str(err.value) and stored.error_type == "ModelAPIError"
    assert stored.messages[0].text == "hello" and stored.session_id == "s1"


def test_retries_are_configurable(fake: FakeAnthropic) -> None:
    fake.reset([Turn.error(429), Turn.text("ok after a retry")])
    run = Agent("a", model=claude(fake, max_retries=1), db=False).run("go")
    assert run.content == "ok after a retry" and len(fake.requests) == 2


def test_mid_stream_error_and_truncated_stream(fake: FakeAnthropic) -> None:
    agent = Agent("a", model=claude(fake), db=False)
    fake.reset(
        [Turn.text("partial answer that breaks", error_after=4, error_type="overloaded_error")]
    )
    with pytest.raises(ModelAPIError) as err:
        agent.run("go")
    assert "reported overloaded_error mid-answer: Overloaded" in str(err.value)
    assert err.value.error_type == "overloaded_error" and err.value.status_code is None
    fake.reset([Turn.text("partial answer that is cut", truncate_after=4)])
    with pytest.raises(ModelConnectionError, match="broke off"):
        agent.run("go")


def test_broken_tool_input_json_is_a_clear_error(fake: FakeAnthropic) -> None:
    agent = Agent("a", model=claude(fake), tools=[lookup_order], db=False)
    fake.reset([Turn.tool_calls([ToolCall("lookup_order", raw_input='{"order_id": "4')])])
    with pytest.raises(ModelError, match="'lookup_order' is not valid JSON"):
        agent.run("go")
    assert len(fake.requests) == 1  # the tool never ran on guessed arguments


def test_tool_input_is_assembled_from_json_pieces(fake: FakeAnthropic) -> None:
    nested = {"order_id": "42", "lines": [{"sku": 'a"b', "qty": 2}], "note": "é ✓"}
    fake.reset([Turn.tool_calls([ToolCall("record", nested)]), Turn.text("done")])
    seen: list[dict[str, object]] = []

    def record(order_id: str, lines: list[dict[str, object]], note: str) -> str:
        """Record an order."""
        seen.append({"order_id": order_id, "lines": lines, "note": note})
        return "ok"

    run = Agent("a", model=claude(fake), tools=[record], db=False).run("go")
    assert seen == [nested] and run.tool_calls[0].args == nested


def test_timeout(fake: FakeAnthropic) -> None:
    fake.reset([Turn.text("too late", delay=2.0)])
    with pytest.raises(ModelTimeoutError, match=r"no answer within 0.2 s"):
        Agent("a", model=claude(fake, timeout=0.2), db=False).run("go")


def test_env_vars_are_honoured(fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url or "")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
    fake.reset([Turn.text("hi")])
    run = Agent("a", model="anthropic:claude-sonnet-4-6", db=False).run("go")
    assert run.content == "hi"
    assert fake.requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_missing_api_key_is_a_clear_error() -> None:
    with pytest.raises(MissingAPIKeyError, match="set ANTHROPIC_API_KEY"):
        Agent("a", model=Claude(), db=False).run("go")


async def test_sdk_clients_are_shared_across_claude_objects_on_a_loop(
    fake: FakeAnthropic,
) -> None:
    first, second = claude(fake)._client(), claude(fake)._client()
    assert first is second
    assert claude(fake, timeout=5.0)._client() is not first
    other = await asyncio.to_thread(lambda: asyncio.run(_client_of(claude(fake))))
    assert other is not first


async def _client_of(model: Claude) -> object:
    return model._client()


async def test_served_clients_use_the_aiohttp_transport_and_close(fake: FakeAnthropic) -> None:
    from anthropic._vendor.httpx_aiohttp import AiohttpTransport

    agent = Agent("a", model=claude(fake, max_retries=1), tools=[lookup_order], db=False)
    async with served_clients():
        client = agent.model._client()  # type: ignore[attr-defined]
        assert isinstance(client._client._transport, AiohttpTransport)
        fake.reset([Turn.tool_call("lookup_order", {"order_id": "42"}), Turn.text("Shipped.")])
        run = await agent.arun("Where is 42?")
        assert run.content == "Shipped." and run.tool_calls[0].args == {"order_id": "42"}
        fake.reset([Turn.error(529), Turn.text("ok after a retry")])
        assert (await agent.arun("go")).content == "ok after a retry"
        fake.reset([Turn.text("partial answer that breaks", error_after=4)])
        with pytest.raises(ModelAPIError):
            await agent.arun("go")
        fake.reset([Turn.text("partial answer that is cut", truncate_after=4)])
        with pytest.raises(ModelConnectionError, match="broke off"):
            await agent.arun("go")
        fake.reset([Turn.text("too late", delay=2.0)])
        slow = Agent("a", model=claude(fake, timeout=0.2), db=False)
        with pytest.raises(ModelTimeoutError, match=r"no answer within 0.2 s"):
            await slow.arun("go")
    assert client.is_closed()


class _MalformedStream(http.server.BaseHTTPRequestHandler):
    """An "Anthropic-compatible" endpoint that streams one well-formed event, then one that
    is not JSON (``/bad-json``) or lacks a field the Messages API always sends."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        start = {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {}}}
        bad = (
            "{not json"
            if self.path.endswith("/bad-json/v1/messages")
            else json.dumps(
                {"type": "content_block_start", "content_block": {"type": "text", "text": ""}}
            )
        )
        body = (
            f"event: message_start\ndata: {json.dumps(start)}\n\n"
            f"event: content_block_start\ndata: {bad}\n\n"
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("path", "detail"), [("bad-json", "Expecting"), ("no-index", "index")])
def test_malformed_stream_events_are_a_clear_model_error(path: str, detail: str) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MalformedStream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{path}"
        agent = Agent("a", model=Claude("m", api_key="k", base_url=url, max_retries=0), db=False)
        with pytest.raises(ModelError) as err:
            agent.run("go")
    finally:
        server.shutdown()
        server.server_close()
    message = str(err.value)
    assert "m: the stream sent a malformed 'content_block_start' event" in message
    assert detail in message and not isinstance(err.value, ModelAPIError)


def test_an_injected_client_runs_an_agent_in_process_without_a_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    import anthropic
    import httpx2

    def no_socket(*args: object, **kwargs: object) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket.socket, "connect", no_socket)
    monkeypatch.setattr(socket, "create_connection", no_socket)
    fake = FakeAnthropic(
        [Turn.tool_call("lookup_order", {"order_id": "42"}), Turn.text("42 has shipped.")]
    )
    transport = httpx2.ASGITransport(app=fake.app)
    client = anthropic.AsyncAnthropic(
        api_key="sk-injected", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
    )  # no ANTHROPIC_API_KEY in the environment (conftest), and its base URL is closed
    agent = Agent("support", model=Claude(client=client), tools=[lookup_order], db=False)
    run = agent.run("Where is order 42?")
    assert run.status == "completed" and run.content == "42 has shipped."
    assert [(t.name, t.status, t.result) for t in run.tool_calls] == [
        ("lookup_order", "completed", {"id": "42", "status": "shipped"})
    ]
    first, second = fake.requests
    assert first.headers["authorization"] == "Bearer sk-injected"
    assert second.messages[-1]["content"][0]["type"] == "tool_result"


def test_an_injected_client_refuses_a_key_or_url_and_is_not_written_as_yaml() -> None:
    import anthropic

    from agno_nb.exceptions import ConfigError

    client = anthropic.AsyncAnthropic(api_key="sk-injected")
    with pytest.raises(ConfigError, match="uses the client's own key and URL"):
        Claude(client=client, api_key="sk-other")
    with pytest.raises(ConfigError, match="uses the client's own key and URL"):
        Claude(client=client, base_url="http://127.0.0.1:9")
    body = Agent("a", model=Claude("claude-haiku-4-5", client=client), db=False).to_yaml()
    assert body.startswith("# left out (secrets; set them again): model.client")
    assert "sk-injected" not in body and "model: anthropic:claude-haiku-4-5" in body
