"""Claude prices in USD per million tokens, for the ``llm.cost.*`` attributes of LLM spans.

Taken on 2025-11-30 from Anthropic's public price list (anthropic.com/pricing and the
"Pricing" page of the API docs), written down from knowledge: this machine has no
internet, so they could not be re-checked when this file was written. Check them against
the current price list before you rely on a cost; ``register`` adds or corrects a model
at run time.

Per model: input (uncached prompt tokens), output, cache read (0.1x input) and cache write
(5-minute cache writes, 1.25x input). Not modelled: the 1-hour cache (2x input), batch
discounts (-50%), and the long-context rate of Sonnet 4 / 4.5 for prompts above 200k
tokens (input 6, output 22.50): costs of such requests are under-stated.

A model id is priced when it is in the table, or is a table id followed by a date
(``claude-sonnet-4-5-20250929``) or ``-latest``. Anything else, including a newer model
this table does not know, costs ``None``: an unknown price is never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PRICES", "PRICES_TAKEN_ON", "Price", "Cost", "cost", "price_for", "register"]

PRICES_TAKEN_ON = "2025-11-30"


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float


@dataclass(frozen=True, slots=True)
class Cost:
    """The USD cost of one model request, split the way ``llm.cost.*`` is."""

    input: float
    cache_read: float
    cache_write: float
    completion: float

    @property
    def prompt(self) -> float:
        return self.input + self.cache_read + self.cache_write

    @property
    def total(self) -> float:
        return self.prompt + self.completion


def _family(input: float, output: float) -> Price:
    return Price(input, output, cache_read=input * 0.1, cache_write=input * 1.25)


_OPUS_4_5 = _family(5.0, 25.0)
_OPUS = _family(15.0, 75.0)
_SONNET = _family(3.0, 15.0)
_HAIKU_4_5 = _family(1.0, 5.0)
_HAIKU_3_5 = _family(0.80, 4.0)
_HAIKU_3 = Price(0.25, 1.25, cache_read=0.03, cache_write=0.30)

PRICES: dict[str, Price] = {
    # Claude 4.x
    "claude-opus-4-5": _OPUS_4_5,
    "claude-opus-4-1": _OPUS,
    "claude-opus-4": _OPUS,
    "claude-opus-4-0": _OPUS,
    "claude-sonnet-4-5": _SONNET,
    "claude-sonnet-4": _SONNET,
    "claude-sonnet-4-0": _SONNET,
    "claude-haiku-4-5": _HAIKU_4_5,
    # Claude 3.x
    "claude-3-7-sonnet": _SONNET,
    "claude-3-5-sonnet": _SONNET,
    "claude-3-5-haiku": _HAIKU_3_5,
    "claude-3-opus": _OPUS,
    "claude-3-sonnet": _SONNET,
    "claude-3-haiku": _HAIKU_3,
}
"""Model id (without date suffix) -> price. Dated ids seen in the API: opus-4-5-20251101,
opus-4-1-20250805, opus-4-20250514, sonnet-4-5-20250929, sonnet-4-20250514,
haiku-4-5-20251001, 3-7-sonnet-20250219, 3-5-sonnet-20241022 / -20240620,
3-5-haiku-20241022, 3-opus-20240229, 3-sonnet-20240229, 3-haiku-20240307."""

_SUFFIX = re.compile(r"-(\d{8}|latest)$")
_cache: dict[str, Price | None] = {}


def price_for(model: str | None) -> Price | None:
    """The price of ``model``, or None if the table does not know it exactly."""
    if not model:
        return None
    try:
        return _cache[model]
    except KeyError:
        pass
    found = PRICES.get(model) or PRICES.get(_SUFFIX.sub("", model))
    if len(_cache) < 1024:
        _cache[model] = found
    return found


def register(model: str, price: Price) -> None:
    """Add or correct a model's price (e.g. a model newer than this table)."""
    PRICES[model] = price
    _cache.clear()


def cost(
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> Cost | None:
    """The cost of one request; None for a model without a known price."""
    price = price_for(model)
    if price is None:
        return None
    return Cost(
        input=input_tokens * price.input / 1e6,
        cache_read=cache_read_tokens * price.cache_read / 1e6,
        cache_write=cache_write_tokens * price.cache_write / 1e6,
        completion=output_tokens * price.output / 1e6,
    )
