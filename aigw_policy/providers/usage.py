"""Usage from provider responses, normalized as SPEC section 5 says.

``input_tokens`` counts all input, cached and cache-creation tokens included (Anthropic reports
them apart: they are added); ``cache_creation_1h_input_tokens`` is the part of
``cache_creation_input_tokens`` written to Anthropic's 1-hour cache (priced above the 5-minute
writes, the rest), never counted again in the input; ``output_tokens`` includes reasoning
tokens (Gemini reports thoughts apart: they are added); ``total_tokens`` is always
``input + output``.

Everything here is pure: payloads in, values out, no I/O. Bad payloads never raise out of
:func:`extract_usage`; they give an estimate whose ``notes`` say why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from .billed import audio_seconds, reported_cost

Source = Literal["provider", "estimate", "none"]  # none: never forwarded, nothing used

_MAX_TOKENS = 2**53  # anything larger is not a token count

UPSTREAM_ERROR = "upstream error "
"""How the note of an upstream error's usage starts (``upstream error 429: rate_limit_exceeded``,
``upstream error 200: server_error`` for an error object answered with a 2xx status)."""


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0  # of cache_creation_input_tokens
    reasoning_tokens: int = 0
    total_tokens: int = 0
    source: Source = "provider"
    model: str | None = None  # the served model, when the response names it
    notes: tuple[str, ...] = field(default=(), compare=True)
    #: counts a provider bills at their own price, in genai-prices' unit names
    #: (:data:`PRICED_UNITS`), each a part of the input or output above (or, ``web_searches``,
    #: a count of calls): priced by :mod:`.prices`, not part of ``ai.usage`` or the ledger's
    #: columns, whose cost already holds them
    units: tuple[tuple[str, int], ...] = ()
    #: the service tier the provider says it served the request at (OpenAI ``flex``,
    #: ``priority``...), when it is not the default one: its prices differ
    service_tier: str | None = None
    #: what the provider says it charged for the request (OpenRouter's and Perplexity's
    #: ``usage.cost``, USD; xAI's ``usage.cost_in_usd_ticks``; :func:`reported_cost`): priced from it, for the labels of
    #: :data:`~aigw_policy.providers.prices.REPORTED_COST` only
    reported_usd: Decimal | None = None
    #: what a server-side tool ran on another model, by that model's name, priced at its prices
    #: (the Responses API's image generation tool: ``tool_usage.image_gen``, on ``gpt-image-1``
    #: unless the tool names another): not part of the counts above, which are the model's own
    other_models: tuple[tuple[str, Usage], ...] = ()

    @classmethod
    def of(
        cls,
        input_tokens: int,
        output_tokens: int,
        *,
        cached_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
        cache_creation_1h_input_tokens: int = 0,
        reasoning_tokens: int = 0,
        source: Source = "provider",
        model: str | None = None,
        notes: tuple[str, ...] = (),
        units: tuple[tuple[str, int], ...] = (),
        service_tier: str | None = None,
        reported_usd: Decimal | None = None,
        other_models: tuple[tuple[str, Usage], ...] = (),
    ) -> Usage:
        # built through the slots, in field order: the frozen __init__'s object.__setattr__
        # per field cost more than the rest of a limit's estimate (a Usage per limit action)
        u = _new(cls)
        for put, value in zip(_PUTS, (input_tokens, output_tokens, cached_input_tokens, cache_creation_input_tokens,
                                      cache_creation_1h_input_tokens, reasoning_tokens, input_tokens + output_tokens,
                                      source, model, notes, units, service_tier, reported_usd, other_models),
                              strict=True):
            put(u, value)
        return u

    def to_dict(self) -> dict[str, Any]:
        """The ``ai.usage`` object of the CEL environment and of the decision."""
        # written out (a comprehension of getattr took twice as long); in TOKEN_FIELDS' order,
        # which tests/providers/test_usage_dict.py holds it to
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cached_input_tokens": self.cached_input_tokens,
                "cache_creation_input_tokens": self.cache_creation_input_tokens,
                "cache_creation_1h_input_tokens": self.cache_creation_1h_input_tokens,
                "reasoning_tokens": self.reasoning_tokens, "total_tokens": self.total_tokens,
                "source": self.source}

    def counts(self) -> dict[str, int]:
        """The token counts, by :data:`TOKEN_FIELDS` name."""
        return {name: getattr(self, name) for name in TOKEN_FIELDS}

    @property
    def upstream_failed(self) -> bool:
        """Whether this is the usage of an upstream error that reported none (a status >= 400,
        or a 2xx answer whose body is an error object: :data:`UPSTREAM_ERROR` noted): settled
        by the policy's ``upstream_error`` (released, or the input charged), as an error is."""
        return self.source == "estimate" and any(n.startswith(UPSTREAM_ERROR) for n in self.notes)

    def unit(self, name: str) -> int:
        """The count of one of :attr:`units` (0 when not reported)."""
        return next((n for k, n in self.units if k == name), 0)

    def with_model(self, model: str | None) -> Usage:
        if model is None or self.model == model:
            return self
        u = _new(type(self))
        for put, get in zip(_PUTS, _GETS):
            put(u, get(self))
        _PUT_MODEL(u, model)
        return u


_new = object.__new__
_PUTS = tuple(Usage.__dict__[f.name].__set__ for f in fields(Usage))  # the slots' setters, in field order
_GETS = tuple(Usage.__dict__[f.name].__get__ for f in fields(Usage))
_PUT_MODEL = Usage.__dict__["model"].__set__

TOKEN_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Usage) if f.name.endswith("_tokens"))
"""The token counts a :class:`Usage` declares, in order: the ledger's record and columns and
the usage report take theirs from here."""


# ---------------------------------------------------------------------------------------------
# numbers


def tok(value: object) -> int | None:
    """A token count, or None when ``value`` is not a sane non-negative integer.

    A whole float (``12.0``) and a string of decimal digits (``"12"``, how proto3 JSON may
    write an integer, and how some OpenAI-compatible servers do) are the number they spell;
    a sign, a fraction, a bool or a count past 2^53 is not a count."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < _MAX_TOKENS else None
    if isinstance(value, float) and value.is_integer() and 0 <= value < _MAX_TOKENS:
        return int(value)
    if isinstance(value, str) and 0 < len(value) <= 16 and value.isascii() and value.isdigit():
        n = int(value)
        return n if n < _MAX_TOKENS else None
    return None


def _opt(u: Mapping[str, Any], key: str) -> int | None:
    """A count that may be absent: absent or null is 0 (embeddings have no completion
    count; some servers write ``null``), anything else must be a count."""
    value = u.get(key)
    return 0 if value is None else tok(value)


def _with_gap(inp: int, out: int, total: int | None, notes: list[str]) -> int:
    """The output, made up to the provider's own total when that is larger than input plus
    output: a count the usage object names apart from both (Gemini's thoughts behind an
    OpenAI-compatible endpoint: ``completion_tokens`` without them, ``total_tokens`` with them)
    is still billed, and output is where reasoning belongs."""
    if total is not None and total > inp + out:
        notes.append(f"total above input + output: {total - inp - out} more output tokens")
        return total - inp
    return out


def _within(part: int, whole: int, name: str, notes: list[str]) -> int:
    """``part`` of a count reported as a detail of ``whole`` (cached of input, reasoning of
    output, 1-hour cache writes of all writes), at most ``whole``: more would make the rest of
    ``whole`` (the uncached input, the 5-minute writes) negative."""
    if part > whole:
        notes.append(f"{name} above its total: clamped")
        return whole
    return part


def _get(obj: object, *path: str) -> object:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _n(obj: object, *path: str) -> int:
    return tok(_get(obj, *path)) or 0


def served_model(value: object, *, gemini: bool = False) -> str | None:
    """A served model name from a response, or None. Gemini's ``modelVersion`` may be a
    resource name (``models/gemini-2.5-flash``): the prefix is dropped, as in the URL path."""
    if not isinstance(value, str) or not value:
        return None
    if gemini and value.startswith("models/") and len(value) > len("models/"):
        value = value[len("models/") :]
    return value[:256]


def _model(obj: object) -> str | None:
    return served_model(_get(obj, "model")) or served_model(_get(obj, "modelVersion"), gemini=True)


# ---------------------------------------------------------------------------------------------
# per-provider usage objects -> Usage (None when the object carries no usable counts)


def openai_usage(u: object) -> Usage | None:
    """Chat completions, completions, embeddings (``prompt_tokens``) and responses
    (``input_tokens``) usage objects; also what vLLM and Ollama's OpenAI API send.

    Their details are parts of the totals: ``cached_tokens`` and ``cache_write_tokens`` (the
    cache reads and writes of models that bill writes) of the input (when no detail names
    them: DeepSeek's ``prompt_cache_hit_tokens``, Moonshot's top-level ``cached_tokens``),
    ``reasoning_tokens`` of the output, and the ``audio_tokens`` of either, billed at the audio
    price. Perplexity counts two parts beside the totals, at the top level (:data:`BESIDE`):
    ``citation_tokens`` are input (as Mistral's conversations' ``connector_tokens``), its top-level
    ``reasoning_tokens`` output (and reasoning), its ``num_search_queries`` web searches; SGLang's top-level
    ``reasoning_tokens`` are the reasoning detail of ``completion_tokens``."""
    if not isinstance(u, Mapping):
        return None
    if u.get("type") == "duration" and "input_tokens" not in u:  # whisper-1: billed by the audio's length
        return duration_usage(u.get("seconds"))
    if "input_tokens" in u or "output_tokens" in u:  # responses API (and images, audio)
        inp, out = tok(u.get("input_tokens")), _opt(u, "output_tokens")
        # the audio transcriptions' usage spells it `input_token_details`
        ins = "input_token_details" if "input_token_details" in u and "input_tokens_details" not in u \
            else "input_tokens_details"
        outs = "output_tokens_details"
    else:
        inp, out = tok(u.get("prompt_tokens")), _opt(u, "completion_tokens")
        ins, outs = "prompt_tokens_details", "completion_tokens_details"
    notes: list[str] = []
    if inp is None and out and u.get("input_tokens" if ins != "prompt_tokens_details" else "prompt_tokens") is None:
        inp = 0  # an output count and no input count at all: the request's estimate stands in
        notes.append(NO_INPUT)
    if inp is None or out is None:
        return None
    apart = thought = searches = 0
    if "citation_tokens" in u or "reasoning_tokens" in u or "num_search_queries" in u or "connector_tokens" in u:
        citations, top = _opt(u, "citation_tokens"), _opt(u, "reasoning_tokens")
        searches, read = _opt(u, "num_search_queries"), _opt(u, "connector_tokens")
        if citations is None or top is None or searches is None or read is None:
            return None
        if _get(u, outs, "reasoning_tokens") is None:  # else a copy of the detail
            thought = top
            if "citation_tokens" in u or "num_search_queries" in u:  # Perplexity's: apart from the totals
                apart = top
        inp, out = inp + citations + read, out + apart
    total = tok(u.get("total_tokens"))
    if u.get("prompt_audio_seconds") is not None and total is not None and total > inp + out:
        # Mistral's audio: its tokens are in the total alone, and they are input (billed by the minute)
        notes.append(f"total above input + output: {total - inp - out} audio input tokens")
        inp = total - out
    out = _with_gap(inp, out, total, notes)
    cached = _within(_n(u, ins, "cached_tokens") or _n(u, "prompt_cache_hit_tokens") or _n(u, "cached_tokens")
                     or _n(u, "num_cached_tokens") or _n(u, "prompt_token_details", "cached_tokens"),
                     inp, "cached_tokens", notes)
    written = _within(_n(u, ins, "cache_write_tokens"), inp - cached, "cache_write_tokens", notes)
    reasoning = _within(_n(u, outs, "reasoning_tokens") + thought, out, "reasoning_tokens", notes)
    units = _units((*_modal(u, ins, "input", inp, notes), *_modal(u, outs, "output", out, notes),
                    *(audio_seconds(u.get("prompt_audio_seconds")) or ()), ("web_searches", searches)))
    return Usage.of(inp, out, cached_input_tokens=cached, cache_creation_input_tokens=written,
                    reasoning_tokens=reasoning, notes=tuple(notes), units=units,
                    reported_usd=reported_cost(u) if "cost" in u or "cost_in_usd_ticks" in u else None)


def duration_usage(seconds: object) -> Usage | None:
    """A transcription billed by its audio's length (``usage: {type: duration, seconds}``,
    whisper-1): no tokens, its seconds as :func:`~.billed.audio_seconds` gives them; None for
    anything but a finite number >= 0."""
    units = audio_seconds(seconds)
    return Usage.of(0, 0, units=units) if units is not None else None


def _modal(u: Mapping[str, Any], details: str, part: str, whole: int, notes: list[str]) -> list[tuple[str, int]]:
    """The audio and image tokens of an OpenAI-shaped breakdown (``audio_tokens``, and
    ``image_tokens``: gpt-image-1's image input, $10 per MTok against $5 for text), by their
    :data:`PRICED_UNITS` names; left out, with a note, when together above their total."""
    audio, image = _n(u, details, "audio_tokens"), _n(u, details, "image_tokens")
    if audio + image > whole:
        if not image:
            return [(f"{part}_audio_tokens", _within(audio, whole, "audio_tokens", notes))]
        notes.append(f"{details} above their total: priced as text")
        return []
    return [(f"{part}_audio_tokens", audio), (f"{part}_image_tokens", image)]


BESIDE = frozenset(("prompt_cache_hit_tokens", "cached_tokens", "num_cached_tokens", "prompt_token_details",
                    "citation_tokens", "reasoning_tokens", "num_search_queries", "connector_tokens"))
"""The counts an OpenAI-shaped usage object may carry at its top level, beside the OpenAI ones:
DeepSeek's ``prompt_cache_hit_tokens``, Moonshot's ``cached_tokens`` and Mistral's
``num_cached_tokens`` or ``prompt_token_details.cached_tokens`` (so spelt; cache reads, a part
of the prompt), Perplexity's ``citation_tokens`` (the search results it read: input, billed at
the input price, left out of ``prompt_tokens`` and ``total_tokens``) and its top-level
``reasoning_tokens`` (Deep Research's reasoning step, billed apart, left out of
``completion_tokens`` and ``total_tokens``: added to the output; told from SGLang's, a part of
``completion_tokens``, by the ``citation_tokens`` or ``num_search_queries`` beside them); Mistral's
conversations' ``connector_tokens`` (what its connectors, web search..., fed the model: input)."""


PRICED_UNITS: tuple[str, ...] = (
    "input_audio_tokens", "input_image_tokens", "input_video_tokens",
    "cache_audio_read_tokens", "cache_image_read_tokens", "cache_video_read_tokens",
    "output_audio_tokens", "output_image_tokens", "output_video_tokens",
    "web_searches", "storage_searches", "rerank_searches",
    "audio_seconds", "input_audio_seconds", "input_characters",
    "input_document_pages", "input_annotated_document_pages",
)
"""The counts :attr:`Usage.units` may hold, in this order: genai-prices' names of the audio,
image and video parts of the input, of its cache reads and of the output (a model without
their own price bills them as text), and of the searches a server-side tool made, billed per
call: web searches (Anthropic's ``server_tool_use.web_search_requests``, the Responses API's
``web_search_call`` items that search) and file searches (its ``file_search_call`` items);
the search units of a rerank (Cohere's ``billed_units.search_units``); and the seconds of audio
a transcription billed by duration read (whisper-1's ``usage.seconds``: ``audio_seconds``, of
which ``input_audio_seconds``, as genai-prices wants both); the characters of a speech
request's text (``input_characters``: tts-1 and Groq's Orpheus are billed by them); the pages
an OCR read (Mistral's ``usage_info.pages_processed``: ``input_document_pages``, and
``input_annotated_document_pages`` when it annotated them)."""


def _units(pairs: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """The non-zero counts of ``pairs``, in :data:`PRICED_UNITS`' order."""
    found = dict(pairs)
    return tuple((name, found[name]) for name in PRICED_UNITS if found.get(name))


def tool_calls(output: object) -> tuple[tuple[str, int], ...]:
    """The searches billed per call among a Responses API answer's ``output`` items: each
    ``web_search_call`` whose action is a search (``open_page`` and ``find_in_page`` are not
    billed; an item without an action is one, as older answers wrote them), each
    ``file_search_call``."""
    web = files = 0
    for item in _list(output):
        kind = _get(item, "type")
        if kind == "web_search_call":
            action = _get(item, "action", "type")
            web += action is None or action == "search"
        elif kind == "file_search_call":
            files += 1
    return _units((("web_searches", web), ("storage_searches", files)))


def with_units(usage: Usage, units: tuple[tuple[str, int], ...]) -> Usage:
    """``usage`` with the counts ``units`` added to its own (none: as it is)."""
    if not units:
        return usage
    found = dict(usage.units)
    for name, n in units:
        found[name] = found.get(name, 0) + n
    return replace(usage, units=_units(found.items()))


def service_tier(value: object) -> str | None:
    """The service tier a response names (``service_tier``: OpenAI ``flex``, ``priority``...),
    or None for the default one (``default``, ``auto``, Anthropic's ``standard``) or no tier."""
    if not isinstance(value, str) or not value or value in ("default", "auto", "standard"):
        return None
    return value[:32]


def with_tier(usage: Usage, tier: str | None) -> Usage:
    """``usage`` served at ``tier`` (None: as it is)."""
    return usage if tier is None or usage.service_tier == tier else replace(usage, service_tier=tier)


_ANTHROPIC_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)


def counts_of(m: object, names: tuple[str, ...]) -> dict[str, int]:
    """The counts ``names`` present in a usage object ``m`` (absent or null: left out); empty
    when ``m`` is not an object or any present count is not a count (``-1``, ``"x"``): such an
    object is not trusted at all, rather than read as if that count were 0."""
    if not isinstance(m, Mapping):
        return {}
    found: dict[str, int] = {}
    for name in names:
        raw = m.get(name)
        if raw is None:
            continue
        value = tok(raw)
        if value is None:
            return {}
        found[name] = value
    return found


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


NO_INPUT = "no input count: input estimated"
"""The note of a usage whose object named an output count but no input count (Anthropic's
``input_tokens``, Gemini's ``promptTokenCount`` without a total): :func:`with_input_estimate`
puts the request's estimate there, marked ``estimate``; 0 input would be trusted as the
provider's."""


def with_input_estimate(usage: Usage, estimate: int) -> Usage:
    """``usage`` with the request's input estimate when its object named no input count
    (:data:`NO_INPUT`); as it is otherwise."""
    if NO_INPUT not in usage.notes:
        return usage
    # the input's modality details broke down the provider's partial count, not the estimate:
    # kept only where they fit in it (an estimate has no cached part: its cache_ details go)
    notes = usage.notes
    units = tuple((k, n) for k, n in usage.units if not k.startswith("cache_"))
    if len(units) < len(usage.units):
        notes = (*notes, "cache_ modality details of an estimated input: priced as text")
    if sum(n for k, n in units if k.startswith("input_")) > estimate:
        units = tuple((k, n) for k, n in units if not k.startswith("input_"))
        notes = (*notes, "input_ modality details above the estimated input: priced as text")
    return Usage.of(estimate, usage.output_tokens, reasoning_tokens=usage.reasoning_tokens, source="estimate",
                    model=usage.model, notes=notes, units=units, service_tier=usage.service_tier,
                    reported_usd=usage.reported_usd)


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


_GEMINI_FIELDS = (
    "promptTokenCount",
    "candidatesTokenCount",
    "cachedContentTokenCount",
    "thoughtsTokenCount",
    "toolUsePromptTokenCount",
    "totalTokenCount",
)


_GEMINI_DETAILS = (
    ("promptTokensDetails", "input"),
    ("toolUsePromptTokensDetails", "input"),
    ("cacheTokensDetails", "cache"),
    ("candidatesTokensDetails", "output"),
)
"""The per-modality breakdowns of ``usageMetadata`` (lists of ``{modality, tokenCount}``) and
the part of the usage each breaks down: the prompt (with the tool-use prompt), its cached part,
the candidates."""
_GEMINI_MODALITIES = {"AUDIO": "audio", "IMAGE": "image", "DOCUMENT": "image", "VIDEO": "video"}
"""The modalities billed apart from text, by the name of their genai-prices unit (a document's
pages are read as images, as genai-prices reads them)."""


def gemini_fields(m: object) -> dict[str, int]:
    """The counts of a ``usageMetadata`` object (for cumulative stream merging), the audio,
    image and video parts of its breakdowns among them, by their :data:`PRICED_UNITS` names
    (a breakdown entry that is not a modality and a count is left out: text is the rest)."""
    found = counts_of(m, _GEMINI_FIELDS)
    if not found or not isinstance(m, Mapping):
        return found
    for key, part in _GEMINI_DETAILS:
        details = m.get(key)
        if type(details) is not list:
            continue
        for entry in details:
            modality = entry.get("modality") if isinstance(entry, Mapping) else None
            kind = _GEMINI_MODALITIES.get(modality) if isinstance(modality, str) else None
            count = tok(entry.get("tokenCount")) if kind else None
            if count:
                name = f"cache_{kind}_read_tokens" if part == "cache" else f"{part}_{kind}_tokens"
                found[name] = found.get(name, 0) + count
    return found


def gemini_usage_from_fields(f: Mapping[str, int]) -> Usage | None:
    """Prompt (cached included) + tool-use prompt; candidates + thoughts."""
    if "promptTokenCount" not in f and "candidatesTokenCount" not in f:
        return None
    thoughts = f.get("thoughtsTokenCount", 0)
    inp = f.get("promptTokenCount", 0) + f.get("toolUsePromptTokenCount", 0)
    notes: list[str] = []
    if "promptTokenCount" not in f:  # the total still says it, else it is estimated, never 0
        total, out = f.get("totalTokenCount"), f.get("candidatesTokenCount", 0) + thoughts
        if total is not None and total >= out:
            inp = total - out
            notes.append("no promptTokenCount: the input is the total's rest")
        else:
            notes.append(NO_INPUT)
    out = _with_gap(inp, f.get("candidatesTokenCount", 0) + thoughts, f.get("totalTokenCount"), notes)
    cached = _within(f.get("cachedContentTokenCount", 0), inp, "cachedContentTokenCount", notes)
    units: tuple[tuple[str, int], ...] = ()
    if any(name not in _GEMINI_FIELDS for name in f):
        prompt = _parts_within(f, "input_", inp, notes)
        cache = _parts_within(f, "cache_", cached, notes)
        if any(n > dict(prompt).get(f"input_{name.split('_')[1]}_tokens", 0) for name, n in cache):
            notes.append("cache_ modality details above the prompt's: priced as text")
            cache = []  # a cached audio token is an audio token of the prompt
        units = _units(prompt + cache + _parts_within(f, "output_", f.get("candidatesTokenCount", 0), notes))
    return Usage.of(inp, out, cached_input_tokens=cached,
                    reasoning_tokens=thoughts, notes=tuple(notes), units=units)


def _parts_within(f: Mapping[str, int], prefix: str, whole: int, notes: list[str]) -> list[tuple[str, int]]:
    """The modality counts of ``f`` whose unit names start with ``prefix``, left out (with a
    note) when together they exceed the count they break down: text would be negative."""
    parts = [(name, n) for name, n in f.items() if name.startswith(prefix)]
    if sum(n for _, n in parts) > whole:
        notes.append(f"{prefix}modality details above their total: priced as text")
        return []
    return parts


def predict_usage(predictions: list[Any]) -> Usage | None:
    """Vertex AI's text embeddings (``:predict``): each prediction's
    ``embeddings.statistics.token_count``, summed, is the input; None unless every prediction
    has one (their ``metadata.billableCharacterCount`` prices older models, by character)."""
    counts = [tok(_get(p, "embeddings", "statistics", "token_count")) for p in predictions]
    if not counts or None in counts:
        return None
    return Usage.of(sum(counts), 0)  # type: ignore[arg-type]


def gemini_usage(m: object) -> Usage | None:
    return gemini_usage_from_fields(gemini_fields(m))


def merge_counts(into: dict[str, int], counts: Mapping[str, int]) -> None:
    """Fold a stream event's cumulative counts into ``into``: each field keeps its largest
    value. Cumulative counts never shrink, so a later, larger value is the newer one, and a
    placeholder ``0`` (a ``message_delta`` of some Anthropic-compatible servers, a Gemini chunk
    before the answer) never wipes a count already reported; nothing is ever added twice."""
    for name, value in counts.items():
        if value > into.get(name, -1):
            into[name] = value


# ---------------------------------------------------------------------------------------------
# output text, for estimates when a response carries no usage


def gemini_part_texts(value: object) -> list[str]:
    """The generated text of Gemini ``parts``: text (thoughts included), function calls'
    arguments and the code the code-execution tool runs, which are output tokens too."""
    out: list[str] = []
    for part in _list(value):
        if isinstance(_get(part, "text"), str):
            out.append(part["text"])
        elif isinstance(_get(part, "functionCall"), Mapping):
            out.append(_dumps(part["functionCall"].get("args")))
        elif isinstance(_get(part, "executableCode", "code"), str):
            out.append(part["executableCode"]["code"])
    return out


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dumps(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return ""


def loads(data: str | bytes) -> tuple[object, str | None]:
    """``json.loads`` that returns ``(value, None)`` or ``(None, reason)``; never raises."""
    try:
        return json.loads(data), None
    except RecursionError:
        return None, "json nested too deeply"
    except (ValueError, TypeError) as exc:
        return None, f"invalid json: {str(exc)[:80]}"
