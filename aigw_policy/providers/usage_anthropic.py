"""Anthropic's ``usage`` object (Messages API JSON and stream events, and what Bedrock, Vertex AI
and Anthropic-compatible servers send in its shape) -> :class:`~.usage.Usage`. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from .billed import reported_cost
from .usage import NO_INPUT, Usage, _within, counts_of, tok

__all__ = ["anthropic_fields", "anthropic_usage", "anthropic_usage_from_fields"]


_ANTHROPIC_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)

_TICKS = Decimal(10) ** 10  # xAI's ticks in a dollar

_ANTHROPIC_1H = "cache_creation.ephemeral_1h_input_tokens"
"""The name, among :func:`anthropic_fields`' counts, of the 1-hour cache writes that the usage's
``cache_creation`` breakdown reports (since 2025, with ``ephemeral_5m_input_tokens``, the rest of
``cache_creation_input_tokens``), named by its path: no top-level count has a dot."""


_ANTHROPIC_THINKING = "output_tokens_details.thinking_tokens"
"""Likewise, the part of ``output_tokens`` the model spent thinking (``output_tokens_details:
{thinking_tokens: n}``, the raw reasoning even when the thinking returned is a summary)."""


_ANTHROPIC_SEARCHES = "server_tool_use.web_search_requests"
"""Likewise, the web searches of Anthropic's server-side web search tool (``server_tool_use:
{web_search_requests: n}``, cumulative in a stream's ``message_delta``), billed per search."""


def anthropic_fields(u: object) -> dict[str, int]:
    """The Anthropic counts of a ``usage`` object (for cumulative stream merging), the 1-hour
    cache writes of its ``cache_creation`` breakdown (:data:`_ANTHROPIC_1H`) and the web
    searches of its ``server_tool_use`` (:data:`_ANTHROPIC_SEARCHES`) among them. A breakdown
    that is not an object, or a count in it that is not a count, is a bad count: the object is
    not trusted at all (:func:`counts_of`).

    The ``compaction`` entries of ``iterations`` (server-side compaction, beta
    ``compact-2026-01-12``) are added: the top-level counts are those of the other iterations
    only, and the request is billed for all of them."""
    found = _anthropic_counts(u)
    if not found or not isinstance(u, Mapping):
        return found
    iterations = u.get("iterations")
    if iterations is None:
        return found
    if type(iterations) is not list:
        return {}
    for entry in iterations:
        if not isinstance(entry, Mapping):
            return {}
        if entry.get("type") != "compaction":
            continue  # counted at the top level already
        counts = _anthropic_counts(entry)
        if not counts and any(entry.get(name) is not None for name in _ANTHROPIC_FIELDS):
            return {}
        for name, value in counts.items():
            found[name] = found.get(name, 0) + value
    return found


_ANTHROPIC_TICKS = "cost_in_usd_ticks"
"""Likewise, xAI's billed cost in its Anthropic-compatible API's usage (1e-10 USD: what it
charged, server-side tools included), cumulative in a stream's ``message_delta``; priced from
only for the labels of :data:`~aigw_policy.providers.prices.REPORTED_COST`. A value that is no
whole number of ticks from 0 to $1M's is left out (the tokens priced), never a bad count."""


_ANTHROPIC_FAST = "speed.fast"
"""Likewise, 1 when the usage says the answer was served in fast mode (``speed: "fast"``, a
research preview priced apart: 4x on the models genai-prices prices so), as ``Usage.service_tier``
``fast`` (priced at genai-prices' ``speed: fast`` variant)."""


_ANTHROPIC_PRIORITY = "service_tier.priority"
"""Likewise, 1 when Anthropic's Priority Tier served it (``service_tier: "priority"``): the tier
``priority``, which genai-prices has no price for (priced standard, said; a ``@priority`` override)."""


def _anthropic_counts(u: object) -> dict[str, int]:
    """:func:`anthropic_fields` of one usage object, its ``iterations`` aside."""
    found = counts_of(u, _ANTHROPIC_FIELDS)
    if not found or not isinstance(u, Mapping):
        return found
    if _ANTHROPIC_TICKS in u and (usd := reported_cost({_ANTHROPIC_TICKS: u[_ANTHROPIC_TICKS]})) is not None:
        found[_ANTHROPIC_TICKS] = int(usd * _TICKS)
    if u.get("speed") == "fast":
        found[_ANTHROPIC_FAST] = 1
    if u.get("service_tier") == "priority":
        found[_ANTHROPIC_PRIORITY] = 1
    for outer, inner, name in (("cache_creation", "ephemeral_1h_input_tokens", _ANTHROPIC_1H),
                               ("server_tool_use", "web_search_requests", _ANTHROPIC_SEARCHES),
                               ("output_tokens_details", "thinking_tokens", _ANTHROPIC_THINKING)):
        breakdown = u.get(outer)
        if breakdown is None:
            continue
        if not isinstance(breakdown, Mapping):
            return {}
        raw = breakdown.get(inner)
        if raw is not None:
            value = tok(raw)
            if value is None:
                return {}
            found[name] = value
    return found

def anthropic_usage_from_fields(f: Mapping[str, int]) -> Usage | None:
    if "input_tokens" not in f and "output_tokens" not in f:
        return None
    cached = f.get("cache_read_input_tokens", 0)
    created = f.get("cache_creation_input_tokens", 0)
    one_hour = f.get(_ANTHROPIC_1H, 0)
    notes: list[str] = []
    if one_hour:
        one_hour = _within(one_hour, created, "ephemeral_1h_input_tokens", notes)
    searches = f.get(_ANTHROPIC_SEARCHES, 0)
    output = f.get("output_tokens", 0)
    thinking = _within(f.get(_ANTHROPIC_THINKING, 0), output, "thinking_tokens", notes)
    if "input_tokens" not in f:
        notes.append(NO_INPUT)  # (a compatible server's `message_delta` alone): never 0 input
    return Usage.of(
        f.get("input_tokens", 0) + cached + created,
        output,
        cached_input_tokens=cached,
        cache_creation_input_tokens=created,
        cache_creation_1h_input_tokens=one_hour,
        reasoning_tokens=thinking,
        notes=tuple(notes),
        units=(("web_searches", searches),) if searches else (),
        reported_usd=Decimal(f[_ANTHROPIC_TICKS]) / _TICKS if _ANTHROPIC_TICKS in f else None,
        service_tier="fast" if f.get(_ANTHROPIC_FAST) else "priority" if f.get(_ANTHROPIC_PRIORITY) else None,
    )


def anthropic_usage(u: object) -> Usage | None:
    return anthropic_usage_from_fields(anthropic_fields(u))
