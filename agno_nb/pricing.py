"""Claude prices in USD per million tokens, for the ``llm.cost.*`` attributes of LLM spans.

Taken on 2026-12-04 (``PRICES_TAKEN_ON``) from Anthropic's public price list: the pricing
page of the Claude API docs (platform.claude.com/docs/en/about-claude/pricing) and each
model's overview page (platform.claude.com/docs/en/models/<model>/overview), read through
stored copies (this machine has no internet but the package registries). Two rates come
from price trackers that follow that page, not from the page itself: Sonnet 5.5's cache
reads, cut from 0.20 to 0.10 on 2026-10-07, and the cache rates of Fable 5.2 (released
2026-11-09). Check them against the current price list before you rely on a cost;
``register`` adds or corrects a model at run time.

Per model: input (uncached prompt tokens), output, cache read and cache write (5-minute
cache writes, 1.25x input). Cache reads are 0.1x input, except Opus 5.5 and Sonnet 5.5
(0.05x), Fable and Mythos 5.1 and 5.2 (0.025x) and Haiku 3. Not modelled: the 1-hour
cache (2x input), batch discounts (-50%), Haiku 5.5's rate for prompts over 100k tokens
(5x: such requests are under-stated), and the long-context rate of Sonnet 4 / 4.5 for
prompts above 200k tokens (input 6, output 22.50).

A model id is priced when it is in the table, or is a table id followed by a date
(``claude-sonnet-4-5-20250929``) or ``-latest``. Anything else, including a newer model
this table does not know, costs ``None``: an unknown price is never guessed, and
``warn_if_unpriced`` says so once per model id (``Agent(model="anthropic:...")`` and
``Claude(...)`` call it).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

__all__ = [
    "PRICES", "PRICES_TAKEN_ON", "Price", "Cost", "UnpricedModelWarning", "cost", "price_for",
    "register", "warn_if_unpriced",
]  # fmt: skip

PRICES_TAKEN_ON = "2026-12-04"


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


def _family(input: float, output: float, cache_read: float | None = None) -> Price:
    read = input * 0.1 if cache_read is None else cache_read
    return Price(input, output, cache_read=read, cache_write=input * 1.25)


_FABLE_5_2 = _family(8.0, 40.0, cache_read=0.20)
_FABLE_5_1 = _family(10.0, 50.0, cache_read=0.25)
_FABLE_5 = _family(10.0, 50.0)
_OPUS_5_5 = _family(4.0, 20.0, cache_read=0.20)
_OPUS_4_5 = _family(5.0, 25.0)  # Opus 4.5 to Opus 5
_OPUS = _family(15.0, 75.0)
_SONNET_5 = _family(2.0, 10.0)
_SONNET_5_5 = _family(2.0, 10.0, cache_read=0.10)
_SONNET = _family(3.0, 15.0)
_HAIKU_5_5 = _family(0.10, 0.50)  # prompts up to 100k tokens
_HAIKU_4_5 = _family(1.0, 5.0)
_HAIKU_3_5 = _family(0.80, 4.0)
_HAIKU_3 = Price(0.25, 1.25, cache_read=0.03, cache_write=0.30)

PRICES: dict[str, Price] = {
    # Claude 5.x (Mythos: Fable's prices, by invitation)
    "claude-fable-5-2": _FABLE_5_2,
    "claude-mythos-5-2": _FABLE_5_2,
    "claude-fable-5-1": _FABLE_5_1,
    "claude-mythos-5-1": _FABLE_5_1,
    "claude-fable-5": _FABLE_5,
    "claude-mythos-5": _FABLE_5,
    "claude-opus-5-5": _OPUS_5_5,
    "claude-opus-5": _OPUS_4_5,
    "claude-sonnet-5-5": _SONNET_5_5,
    "claude-sonnet-5": _SONNET_5,
    "claude-haiku-5-5": _HAIKU_5_5,
    # Claude 4.x
    "claude-opus-4-8": _OPUS_4_5,
    "claude-opus-4-7": _OPUS_4_5,
    "claude-opus-4-6": _OPUS_4_5,
    "claude-opus-4-5": _OPUS_4_5,
    "claude-opus-4-1": _OPUS,
    "claude-opus-4": _OPUS,
    "claude-opus-4-0": _OPUS,
    "claude-sonnet-4-6": _SONNET,
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
_warned: set[str] = set()


class UnpricedModelWarning(UserWarning):
    """A model id the price table does not know: its runs show no cost."""


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


def warn_if_unpriced(model: str, *, stacklevel: int = 2) -> None:
    """Warn (once per model id in this process) that ``model`` has no price, so that an
    unknown cost is never silent; ``stacklevel`` as for ``warnings.warn``, from the caller."""
    if model in _warned or price_for(model) is not None:
        return
    _warned.add(model)
    warnings.warn(
        f"model {model!r} is not in agno_nb's price table (prices of {PRICES_TAKEN_ON}): "
        f"its cost shows as unknown; agno_nb.pricing.register({model!r}, Price(...)) adds it",
        UnpricedModelWarning,
        stacklevel=stacklevel + 1,
    )
