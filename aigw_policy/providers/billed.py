"""What an answer says it billed besides tokens: the cost a provider reports (OpenRouter's,
Perplexity's ``usage.cost``, xAI's ``usage.cost_in_usd_ticks``), the seconds of audio a transcription is billed by (whisper-1's
``usage.seconds``, Mistral's ``prompt_audio_seconds``) and the Google searches a Gemini answer
was grounded with (its candidates' ``groundingMetadata``). Pure; read by :mod:`.usage_openai`, :mod:`.usage_anthropic`,
:mod:`.body_usage` and :mod:`.sse`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["audio_seconds", "grounding_queries", "grounded_searches", "reported_cost", "searches_billed"]

_MAX_REPORTED = 1_000_000  # USD: a request's reported cost above this is no cost
_MAX_SECONDS = 2**53


def reported_cost(u: Mapping[str, Any]) -> Decimal | None:
    """What an OpenAI-shaped usage object says the request cost, in USD, or None: OpenRouter's
    ``cost`` (the credits it charged) plus, for a request on your own provider key
    (``is_byok: true``), ``cost_details.upstream_inference_cost`` (what that provider charged
    the key); Perplexity's ``cost.total_cost`` (tokens, request fee and searches). Anything but
    a finite number from 0 to $1M is no cost (priced from the tokens instead). xAI's
    ``cost_in_usd_ticks`` (an integer of 1e-10 USD: what the request was charged, its cache
    discount and server-side tool calls included) when there is no ``cost``."""
    if "cost" not in u and "cost_in_usd_ticks" in u:
        return _ticks(u["cost_in_usd_ticks"])
    cost = u.get("cost")
    if isinstance(cost, Mapping):  # Perplexity's breakdown
        return _usd(cost.get("total_cost"))
    total = _usd(cost)
    if total is None or u.get("is_byok") is not True:
        return total
    details = u.get("cost_details")
    upstream = details.get("upstream_inference_cost") if isinstance(details, Mapping) else None
    if upstream is None:
        return total
    extra = _usd(upstream)
    return None if extra is None else total + extra


_TICKS = Decimal(10) ** 10  # xAI's ticks in a dollar


def _ticks(value: object) -> Decimal | None:
    """xAI's ``cost_in_usd_ticks`` in USD: a whole number of ticks (as JSON may write it, a whole
    float) from 0 to $1M's; anything else is no cost."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_REPORTED * _TICKS:
        return None
    return Decimal(value) / _TICKS


def _usd(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not (math.isfinite(value) and 0 <= value <= _MAX_REPORTED):
        return None
    return Decimal(str(value))


def audio_seconds(seconds: object) -> tuple[tuple[str, int], ...] | None:
    """The units of ``seconds`` of audio (genai-prices' ``audio_seconds``, of which
    ``input_audio_seconds``, as it wants both), rounded to the nearest second as OpenAI bills
    them; ``()`` for none; None for anything but a finite number from 0 (whisper-1's
    ``usage.seconds``; Mistral's ``prompt_audio_seconds``, Voxtral's audio beside its tokens,
    billed by the minute for the models priced so: a model without an audio price prices the
    tokens alone)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < _MAX_SECONDS:
        return None
    whole = int(seconds + 0.5)
    return (("audio_seconds", whole), ("input_audio_seconds", whole)) if whole else ()


def grounding_queries(candidates: object, into: dict[int, set[str]]) -> bool:
    """Adds the Google Search queries of each candidate's ``groundingMetadata.webSearchQueries``
    to ``into`` (by candidate index: a stream repeats or spreads them over its chunks); whether
    any was new."""
    new = False
    for i, c in enumerate(candidates if isinstance(candidates, list) else ()):
        meta = c.get("groundingMetadata") if isinstance(c, Mapping) else None
        queries = meta.get("webSearchQueries") if isinstance(meta, Mapping) else None
        if not isinstance(queries, list):
            continue
        index = c.get("index") if isinstance(c.get("index"), int) else i
        seen = into.setdefault(index, set())
        for q in queries:
            if isinstance(q, str) and q not in seen:
                seen.add(q)
                new = True
    return new


def grounded_searches(queries: Mapping[int, set[str]], model: str | None) -> tuple[tuple[str, int], ...]:
    """genai-prices' ``web_searches`` of a Gemini answer grounded with Google Search: Gemini 3
    bills each search query ($14 per 1,000), the earlier models each grounded prompt ($35 per
    1,000: one, however many queries and candidates). The free daily allowance is the
    project's, which the gateway cannot see: every grounded prompt is counted."""
    return searches_billed(sum(len(q) for q in queries.values()), model)


def searches_billed(count: int, model: str | None) -> tuple[tuple[str, int], ...]:
    """The ``web_searches`` of a Gemini answer that made ``count`` Google searches (a grounded
    prompt's queries; an interaction's ``grounding_tool_count``): each for Gemini 3, one for
    the prompt before (:func:`grounded_searches`)."""
    if not count:
        return ()
    per_query = model is not None and model.lower().removeprefix("models/").startswith("gemini-3")
    return (("web_searches", count if per_query else 1),)
