"""The fake Anthropic server of the bench, in its own process (so it never competes with
the measured client for the GIL): ``python -m bench._server`` prints its URL and serves
until stdin closes or it is terminated."""

from __future__ import annotations

import sys

from agno_nb.testing import FakeAnthropic, RecordedRequest, Turn
from bench._scenario import ANSWER, TOOL_INPUT, TOOL_NAME, last_has_tool_result

_TOOL_CALL = Turn.tool_call(TOOL_NAME, TOOL_INPUT)
_TEXT = Turn.text(ANSWER)


def answer(request: RecordedRequest) -> Turn:
    """A tool call for a new prompt, text once the tool result is in."""
    return _TEXT if last_has_tool_result(request.messages) else _TOOL_CALL


def main() -> int:
    fake = FakeAnthropic(handler=answer)
    with fake.serve() as url:
        print(url, flush=True)
        sys.stdin.read()  # the bench closes our stdin (or terminates us) when done
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
