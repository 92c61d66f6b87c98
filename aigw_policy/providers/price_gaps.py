"""Prices a vendor publishes for the counts it bills apart that genai-prices' snapshot lacks.

genai-prices prices a count billed apart (``Usage.units``: audio, image, video tokens) at the
model's own price for it, and, when the model has none, at its text price: right where the
vendor has one price for every modality (Gemini 2.5 Pro, its TTS models' output), wrong where
the vendor bills the modality apart and the snapshot just lacks the figure. OpenAI bills audio
tokens apart on every model that takes or makes audio (its pricing page's "Audio tokens"
table), and the snapshot (0.2.5) has no audio price for ``gpt-4o-audio-preview`` ($40 / $80
per million against $2.50 / $10 for text: audio was charged ~16x under) nor
``gpt-4o-mini-audio-preview`` ($10 / $20 against $0.15 / $0.60: ~60x under).

:func:`fill` adds the published figure (:data:`PUBLISHED`, per model, from the vendor's model
pages); for a vendor of :data:`APART` whose model has neither, the cost is unknown, with the
reason, rather than a text price the vendor does not charge. Pure data and lookups.

>>> text = {"input_mtok": 2.5, "output_mtok": 10}
>>> fill("openai", "gpt-4o-audio-preview", "gpt-4o-audio-preview", text, (("input_audio_tokens", 10),))
({'input_audio_mtok': Decimal('40')}, None)
>>> fill("openai", "gpt-9-audio", "gpt-9-audio", text, (("output_audio_tokens", 10),))[1]
'`gpt-9-audio` bills audio tokens apart (openai) and no price is known for its output_audio_tokens'
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["APART", "PUBLISHED", "fill", "price_key"]

_AUDIO = frozenset({"input_audio_tokens", "output_audio_tokens", "cache_audio_read_tokens"})
APART: Mapping[str, frozenset[str]] = {"openai": _AUDIO, "azure": _AUDIO}
"""genai-prices provider id -> the units its vendor bills apart on every model (a model
priced without one of them is not priced for it)."""

_D = Decimal
PUBLISHED: Mapping[str, Mapping[str, Decimal]] = {
    # developers.openai.com/api/docs/models/gpt-4o-audio-preview: audio $40 / $80 (2024-12-17
    # and 2025-06-03); the first snapshot, 2024-10-01, was launched at $100 / $200
    "gpt-4o-audio-preview": {"input_audio_mtok": _D(40), "output_audio_mtok": _D(80)},
    "gpt-4o-audio-preview-2024-10-01": {"input_audio_mtok": _D(100), "output_audio_mtok": _D(200)},
    # developers.openai.com/api/docs/models/gpt-4o-mini-audio-preview: audio $10 / $20
    "gpt-4o-mini-audio-preview": {"input_audio_mtok": _D(10), "output_audio_mtok": _D(20)},
    # gpt-4o-mini-tts: its output is audio, $12 per million (genai-prices' output price)
    "gpt-4o-mini-tts": {"output_audio_mtok": _D(12)},
}
"""Model (the name the request used, else genai-prices' id for it) -> the prices genai-prices
lacks, in its price keys (USD per million). Azure OpenAI's are OpenAI's."""


def price_key(unit: str) -> str:
    """genai-prices' price key of a token unit: ``input_audio_tokens`` -> ``input_audio_mtok``."""
    return unit.removesuffix("_tokens") + "_mtok"


def fill(provider_id: str, model: str, model_id: str, price: Any,
         units: tuple[tuple[str, int], ...]) -> tuple[dict[str, Decimal], str | None]:
    """The prices to add to genai-prices' ``price`` (its price keys) for the ``units`` of a
    usage that it has no price for, and the reason the cost is unknown (None: it is known): a
    unit :data:`APART` for ``provider_id`` with neither a price of ``price`` nor a published one,
    when ``price`` has a token price it would fall to (a model billed by the character has none).
    ``price`` is genai-prices' ``ModelPrice`` (or a mapping, for the doctests)."""
    apart = APART.get(provider_id)
    if not apart or _get(price, "input_mtok") is None and _get(price, "output_mtok") is None:
        return {}, None  # no token price the audio would fall to (tts-1: billed by the character)
    published = PUBLISHED.get(model.lower()) or PUBLISHED.get(model_id) or {}
    added: dict[str, Decimal] = {}
    for unit, count in units:
        if not count or unit not in apart:
            continue
        key = price_key(unit)
        if _get(price, key) is not None:
            continue
        if key not in published:
            return {}, f"`{model}` bills {unit.split('_')[1]} tokens apart ({provider_id}) and no price is known for its {unit}"
        added[key] = published[key]
    return added, None


def _get(price: Any, key: str) -> Any:
    return price.get(key) if isinstance(price, Mapping) else getattr(price, key, None)
