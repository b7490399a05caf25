"""A model string is checked when the agent is made: a provider typo is a one-line
ConfigError at ``Agent(...)``; a model id without a price is accepted with one warning."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from agno_nb import Agent, Claude, ConfigError, pricing
from agno_nb.models import infer_model
from agno_nb.pricing import UnpricedModelWarning, price_for

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no model id warned about yet."""
    monkeypatch.setattr(pricing, "_warned", set())


def test_a_provider_typo_fails_at_agent_construction_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        Agent("a", model="antropic:claude-x")
    message = str(caught.value)
    assert "\n" not in message
    assert "unknown model provider 'antropic' in 'antropic:claude-x'" in message
    assert "did you mean 'anthropic'?" in message
    assert "known providers: anthropic, test" in message
    with pytest.raises(ConfigError, match="known providers: anthropic, test"):
        Agent("a", model="openai:gpt-5")
    with pytest.raises(ConfigError, match="no model id after 'anthropic:'"):
        Agent("a", model="anthropic:")
    agent = Agent("a", model="anthropic:claude-haiku-4-5")
    with pytest.raises(ConfigError, match="did you mean 'anthropic'"):
        agent.model = "anthropc:claude-haiku-4-5"


def test_an_unpriced_model_id_is_accepted_and_warned_about_once() -> None:
    with pytest.warns(UnpricedModelWarning) as caught:
        first = Agent("a", model="anthropic:claude-x")
    (warning,) = caught
    text = str(warning.message)
    assert "'claude-x' is not in agno_nb's price table" in text and "cost" in text
    assert pricing.PRICES_TAKEN_ON in text
    assert warning.filename == __file__  # points at the line that made the agent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Agent("b", model="anthropic:claude-x")  # the same id: no second warning
        Agent("c", model="claude-x")
        Claude("claude-x")
        Agent("d", model="anthropic:claude-haiku-4-5")  # priced: no warning at all
        Claude("llama3", base_url="http://127.0.0.1:11434")  # a local server: no bill
    assert first.model.id == "claude-x"
    with pytest.warns(UnpricedModelWarning, match="'claude-y'"):
        Claude("claude-y")


def test_the_default_model_and_the_current_claude_models_have_a_price() -> None:
    assert price_for(infer_model(None).id) is not None
    assert price_for(Claude().id) is not None
    for model in (
        "claude-fable-5-2", "claude-fable-5-1", "claude-opus-5-5", "claude-opus-5",
        "claude-sonnet-5-5", "claude-sonnet-5", "claude-haiku-5-5", "claude-opus-4-8",
        "claude-opus-4-7", "claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5",
    ):  # fmt: skip
        assert price_for(model) is not None, model


def test_checking_a_model_string_imports_no_sdk() -> None:
    code = (
        "import sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from agno_nb import Agent\n"
        "Agent('a', model='anthropic:claude-sonnet-4-6')\n"
        "Agent('b', model='anthropic:claude-unknown')\n"
        "try:\n"
        "    Agent('c', model='antropic:claude-x')\n"
        "except ValueError:\n"
        "    pass\n"
        "heavy = {'anthropic', 'httpx2', 'pydantic', 'duckdb'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT)
