"""The offline demo model of the notebooks: a scripted support agent on FakeAnthropic.

``story_handler`` plays a support model turn by turn, from the prompt and the tools on
offer: it looks the order up (``lookup_order``), then asks for the calls the prompt wants
(``refund`` for "refund", ``delete_customer`` for "delete customer N", together in one
turn), then answers from the results, rejections included. ``use_demo_model()`` starts it
on 127.0.0.1 when no ``ANTHROPIC_API_KEY`` is set and points the Anthropic SDK at it::

    from agno_nb.testing.demo import use_demo_model
    print(use_demo_model())   # says which model answers
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from agno_nb.testing._fake_script import RecordedRequest, ToolCall, Turn

if TYPE_CHECKING:
    from agno_nb.testing.fake_anthropic import FakeAnthropic

__all__ = ["DEMO_KEY", "start_demo_server", "stop_demo_server", "story_handler", "use_demo_model"]

#: the API key the demo sets; FakeAnthropic accepts any
DEMO_KEY = "demo-key-fake-anthropic"

_server: FakeAnthropic | None = None


def _blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(str(b.get("text", "")) for b in value if isinstance(b, dict))
    return str(value)


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _current_turns(
    messages: list[dict[str, Any]],
) -> tuple[str, list[dict[str, Any]], dict[str, tuple[Any, bool]]]:
    """The current prompt, the tool calls made since, and their results by call id."""
    start = 0
    for i, message in enumerate(messages):
        blocks = _blocks(message)
        if message.get("role") == "user" and not any(b["type"] == "tool_result" for b in blocks):
            start = i
    prompt = " ".join(b.get("text", "") for b in _blocks(messages[start]) if b["type"] == "text")
    calls: list[dict[str, Any]] = []
    results: dict[str, tuple[Any, bool]] = {}
    for message in messages[start + 1 :]:
        for block in _blocks(message):
            if block["type"] == "tool_use":
                calls.append(block)
            elif block["type"] == "tool_result":
                content = _parsed(_text(block.get("content", "")))
                results[block["tool_use_id"]] = (content, bool(block.get("is_error")))
    return prompt, calls, results


def _summary(call: dict[str, Any], result: tuple[Any, bool] | None) -> str:
    name, args = call["name"], call.get("input", {})
    if result is None:
        return f"- `{name}` gave no result."
    content, is_error = result
    if is_error:
        return f"- I could **not** run `{name}`: {content}"
    if name == "lookup_order" and isinstance(content, dict):
        details = ", ".join(f"{k}: {v}" for k, v in content.items() if k not in ("id", "status"))
        status = content.get("status", "found")
        return f"- Order {args.get('order_id')} is **{status}**" + (
            f" ({details})." if details else "."
        )
    if isinstance(content, dict) and "note" in content:
        return f"- `{name}` done: {content.get('result')} _(note: {content['note']})_"
    return f"- `{name}` done: {content}"


def story_handler(request: RecordedRequest, *, chunk_delay: float = 0.0) -> Turn:
    """One turn of the scripted support model (see the module docstring)."""
    offered = {t.get("name") for t in request.tools}
    prompt, calls, results = _current_turns(request.messages)
    low = prompt.lower()
    made = {c["name"] for c in calls}
    order = re.search(r"order\s*#?\s*(\d+)", low) or re.search(r"(\d+)", low)
    order_id = order.group(1) if order else None
    if order_id and "lookup_order" in offered and "lookup_order" not in made:
        reply = f"Let me look up order {order_id} first."
        return Turn.tool_call(
            "lookup_order", {"order_id": order_id}, reply=reply, chunk_delay=chunk_delay
        )
    wanted: list[ToolCall] = []
    if order_id and "refund" in low and "refund" in offered and "refund" not in made:
        found = next((results.get(c["id"]) for c in calls if c["name"] == "lookup_order"), None)
        total = found[0].get("total", 30.0) if found and isinstance(found[0], dict) else 30.0
        wanted.append(ToolCall("refund", {"order_id": order_id, "amount": float(total)}))
    customer = re.search(r"delete customer\s*#?\s*(\d+)", low)
    if customer and "delete_customer" in offered and "delete_customer" not in made:
        wanted.append(ToolCall("delete_customer", {"customer_id": customer.group(1)}))
    if wanted:
        names = " and ".join(f"`{c.name}`" for c in wanted)
        reply = f"I will now call {names}; this needs a person's approval."
        return Turn(reply=reply, calls=tuple(wanted), chunk_delay=chunk_delay)
    if not calls:
        reply = (
            f"**Echo:** you said _{prompt.strip() or 'nothing'}_. I am the offline demo "
            "model: ask me about an order, e.g. *Where is order 42?*"
        )
        return Turn.text(reply, chunk_delay=chunk_delay)
    lines = [_summary(c, results.get(c["id"])) for c in calls]
    rejected = any(results.get(c["id"], (None, False))[1] for c in calls)
    closing = (
        "Nothing was changed for the calls that were not approved. Tell me if I should try "
        "something else."
        if rejected
        else "Anything else I can help you with?"
    )
    return Turn.text(
        "Here is what I found:\n\n" + "\n".join(lines) + "\n\n" + closing, chunk_delay=chunk_delay
    )


def start_demo_server(*, chunk_delay: float = 0.02, port: int = 0) -> FakeAnthropic:
    """Serve ``story_handler`` on 127.0.0.1 from a background thread (``fake.url``)."""
    from agno_nb.testing.fake_anthropic import FakeAnthropic

    fake = FakeAnthropic(handler=partial(story_handler, chunk_delay=chunk_delay))
    fake.start("127.0.0.1", port)
    return fake


def stop_demo_server() -> None:
    """Stop the server ``use_demo_model`` started, if any."""
    global _server
    if _server is not None:
        _server.stop()
        _server = None


def use_demo_model(*, chunk_delay: float = 0.02) -> str:
    """With ``ANTHROPIC_API_KEY`` set, do nothing; else start the demo server (once) and
    point the Anthropic SDK of this process at it. Returns a sentence saying which."""
    global _server
    key = os.environ.get("ANTHROPIC_API_KEY")
    if key and key != DEMO_KEY:
        return "ANTHROPIC_API_KEY is set: the agents talk to Claude."
    if _server is None or _server.url is None:
        _server = start_demo_server(chunk_delay=chunk_delay)
    assert _server.url is not None
    os.environ["ANTHROPIC_BASE_URL"] = _server.url
    os.environ["ANTHROPIC_API_KEY"] = DEMO_KEY
    return (
        "No ANTHROPIC_API_KEY: the agents talk to a scripted FakeAnthropic demo model at "
        f"{_server.url} (offline; set ANTHROPIC_API_KEY to use Claude)."
    )
