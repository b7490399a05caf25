"""The Claude price table: exact ids and dated ids are priced, anything else is not."""

from __future__ import annotations

import pytest

from agno_nb import pricing
from agno_nb.pricing import PRICES, Price, cost, price_for, register


@pytest.mark.parametrize(
    ("model", "input", "output"),
    [
        ("claude-opus-4-5", 5.0, 25.0),
        ("claude-opus-4-5-20251101", 5.0, 25.0),
        ("claude-opus-4-1-20250805", 15.0, 75.0),
        ("claude-sonnet-4-5-20250929", 3.0, 15.0),
        ("claude-sonnet-4-20250514", 3.0, 15.0),
        ("claude-haiku-4-5", 1.0, 5.0),
        ("claude-3-7-sonnet-latest", 3.0, 15.0),
        ("claude-3-5-haiku-20241022", 0.8, 4.0),
        ("claude-3-opus-20240229", 15.0, 75.0),
        ("claude-3-haiku-20240307", 0.25, 1.25),
        ("claude-sonnet-4-6", 3.0, 15.0),
        ("claude-opus-4-6", 5.0, 25.0),
        ("claude-opus-5-5", 4.0, 20.0),
        ("claude-sonnet-5-5", 2.0, 10.0),
        ("claude-fable-5-2", 8.0, 40.0),
        ("claude-haiku-5-5", 0.1, 0.5),
    ],
)
def test_known_models_and_their_dated_ids_are_priced(
    model: str, input: float, output: float
) -> None:
    price = price_for(model)
    assert price is not None and (price.input, price.output) == (input, output)


@pytest.mark.parametrize(
    "model",
    [None, "", "claude-sonnet-4-7", "claude-opus-6", "claude-sonnet-4-5-v2", "claude-fake-1",
     "anthropic.claude-3-5-sonnet-20240620-v1:0", "gpt-4o", "claude-sonnet-4-5-2025"],
)  # fmt: skip
def test_an_unknown_model_has_no_price(model: str | None) -> None:
    assert price_for(model) is None
    assert cost(model, 1000, 1000) is None


def test_cache_reads_and_writes_are_priced_apart_from_input() -> None:
    found = cost("claude-sonnet-4-5", 1_000_000, 100_000, 2_000_000, 400_000)
    assert found is not None
    assert found.input == pytest.approx(3.0)
    assert found.cache_read == pytest.approx(0.6)
    assert found.cache_write == pytest.approx(1.5)
    assert found.prompt == pytest.approx(5.1)
    assert found.completion == pytest.approx(1.5)
    assert found.total == pytest.approx(6.6)


#: cache reads below Anthropic's usual 0.1x input (the price list says so per model)
CHEAPER_CACHE_READS = {
    "claude-opus-5-5": 0.05, "claude-sonnet-5-5": 0.05, "claude-fable-5-1": 0.025,
    "claude-mythos-5-1": 0.025, "claude-fable-5-2": 0.025, "claude-mythos-5-2": 0.025,
}  # fmt: skip


def test_every_price_has_cache_rates_that_follow_anthropic_multipliers() -> None:
    for model, price in PRICES.items():
        if model != "claude-3-haiku":
            read = CHEAPER_CACHE_READS.get(model, 0.1)
            assert price.cache_read == pytest.approx(price.input * read), model
            assert price.cache_write == pytest.approx(price.input * 1.25), model
        assert price.output > price.input > 0


def test_register_adds_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    assert price_for("claude-sonnet-6") is None
    monkeypatch.setattr(pricing, "PRICES", dict(PRICES))  # both restored after the test
    monkeypatch.setattr(pricing, "_cache", {})
    register("claude-sonnet-6", Price(3.0, 15.0, 0.3, 3.75))
    assert price_for("claude-sonnet-6-20270101") == Price(3.0, 15.0, 0.3, 3.75)
