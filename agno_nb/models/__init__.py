"""Models: the ``Model`` base class, what goes in and out of it, and ``infer_model``.

A model streams: ``Model.stream(request)`` yields ``TextDelta``s as the answer arrives and
ends with one ``ModelResponse`` (all parts, usage, stop reason).
"""

from __future__ import annotations

from agno_nb.exceptions import ConfigError
from agno_nb.models.base import Model, ModelRequest, ModelResponse, TextDelta, estimate_tokens
from agno_nb.pricing import warn_if_unpriced

__all__ = [
    "PROVIDERS", "Model", "ModelRequest", "ModelResponse", "TextDelta", "estimate_tokens",
    "infer_model", "parse_model_string",
]  # fmt: skip

#: the providers a model string may name (``"anthropic:<model id>"``, ``"test"``)
PROVIDERS = ("anthropic", "test")
DEFAULT_MODEL = "anthropic:claude-sonnet-4-6"


def parse_model_string(model: str, *, stacklevel: int = 2) -> tuple[str, str]:
    """``(provider, model id)`` of a model string, checked without importing any SDK:
    an unknown provider is a one-line ``ConfigError`` naming the known ones, and an
    Anthropic model id without a price warns once (``agno_nb.pricing.warn_if_unpriced``;
    ``stacklevel`` counts from the caller)."""
    provider, sep, model_id = model.partition(":")
    if not sep:
        provider, model_id = ("test", "") if model == "test" else ("anthropic", model)
    if provider not in PROVIDERS:
        import difflib

        close = difflib.get_close_matches(provider, PROVIDERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown model provider {provider!r} in {model!r}{hint}; known providers: "
            f"{', '.join(PROVIDERS)} ('anthropic:<model id>', also for any "
            "Anthropic-compatible server through Claude(base_url=...)), or pass a Model object"
        )
    if provider == "anthropic":
        if not model_id.strip():
            raise ConfigError(f"no model id after 'anthropic:' in {model!r}")
        warn_if_unpriced(model_id, stacklevel=stacklevel + 1)
    return provider, model_id


def infer_model(model: Model | str | None) -> Model:
    """A ``Model`` for ``"anthropic:<id>"``, a bare ``claude-*`` id, ``"test"``, or a Model."""
    if isinstance(model, Model):
        return model
    provider, model_id = parse_model_string(DEFAULT_MODEL if model is None else model)
    if provider == "anthropic":
        from agno_nb.models.anthropic import Claude

        return Claude(id=model_id)
    from agno_nb.models.test import TestModel

    return TestModel()
