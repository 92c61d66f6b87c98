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
    #: the counts above are the sum of :attr:`other_models`' (Groq's compound systems, whose
    #: ``usage_breakdown`` names the models that ran): priced as those parts alone, unless an
    #: override prices the model itself
    by_parts: bool = False

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
        by_parts: bool = False,
    ) -> Usage:
        # built through the slots, in field order: the frozen __init__'s object.__setattr__
        # per field cost more than the rest of a limit's estimate (a Usage per limit action)
        u = _new(cls)
        for put, value in zip(_PUTS, (input_tokens, output_tokens, cached_input_tokens, cache_creation_input_tokens,
                                      cache_creation_1h_input_tokens, reasoning_tokens, input_tokens + output_tokens,
                                      source, model, notes, units, service_tier, reported_usd, other_models,
                                      by_parts),
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


def profiled(usage: Usage, requested: str | None) -> Usage:
    """``usage`` served as the Bedrock model ``requested`` names: an answer in the model's own
    format (Claude's Messages, InvokeModel and its stream) names the model without the
    inference profile the path chose (``claude-opus-4-5-20251101`` for
    ``global.anthropic.claude-opus-4-5-20251101-v1:0``), and a profile is priced as itself (a
    ``global.`` one below the regional ones). A name the request does not hold after a dot
    (an application profile's ARN: the answer names what it ran) stays the answer's."""
    served = usage.model
    if (requested is None or served is None or served == requested
            or f".{served}" not in requested):
        return usage
    return replace(usage, model=requested)


def _model(obj: object) -> str | None:
    return served_model(_get(obj, "model")) or served_model(_get(obj, "modelVersion"), gemini=True)



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



def with_units(usage: Usage, units: tuple[tuple[str, int], ...]) -> Usage:
    """``usage`` with the counts ``units`` added to its own (none: as it is)."""
    if not units:
        return usage
    found = dict(usage.units)
    for name, n in units:
        found[name] = found.get(name, 0) + n
    return replace(usage, units=_units(found.items()))


DEFAULT_TIERS = frozenset(("default", "auto", "standard", "on_demand"))
"""The vendors' names of their default service tier (OpenAI's ``default`` and ``auto``,
Anthropic's and Gemini's ``standard``, Groq's ``on_demand``, sent on every Groq answer): no tier,
the model's own price."""


def service_tier(value: object) -> str | None:
    """The service tier a response names (``service_tier``: OpenAI ``flex``, ``priority``...),
    or None for a default one (:data:`DEFAULT_TIERS`) or no tier."""
    if not isinstance(value, str) or not value or value in DEFAULT_TIERS:
        return None
    return value[:32]


def with_tier(usage: Usage, tier: str | None) -> Usage:
    """``usage`` served at ``tier`` (None: as it is)."""
    return usage if tier is None or usage.service_tier == tier else replace(usage, service_tier=tier)


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


NO_INPUT = "no input count: input estimated"
"""The note of a usage whose object named an output count but no input count (Anthropic's
``input_tokens``, Gemini's ``promptTokenCount`` without a total): :func:`with_input_estimate`
puts the request's estimate there, marked ``estimate``; 0 input would be trusted as the
provider's."""


ZERO_INPUT = "input count 0 for a request with a prompt: input estimated"
"""The note of a provider's usage that says 0 input tokens beside some output for a request
whose input the estimate puts above 0: no model writes from nothing, so the 0 is a placeholder
(an Anthropic-compatible server's ``message_start`` without counts and a ``message_delta`` with
``input_tokens: 0``; an OpenAI-compatible server's ``prompt_tokens: 0`` for a prompt it took from
its cache), read as :data:`NO_INPUT` is."""

ZERO_USAGE = "usage all 0 for a request with a prompt: estimated"
"""The note of a provider's usage whose every count is 0 for a request with input (an
OpenAI-compatible server that writes ``{prompt_tokens: 0, completion_tokens: 0}`` as a
placeholder): no usage, estimated from the request and the answer's text."""


ZERO_OUTPUT = "output count 0 beside an answer's text: output estimated"
"""The note of a provider's usage that says 0 output tokens (or names no output count) beside an
answer whose text counts above 0: no text is written without tokens, so the 0 is a placeholder
(a compatible server's ``usage: {prompt_tokens}`` alone, an Anthropic-compatible answer's
``usage: {input_tokens}``): the output is the text's estimate, as a stream without its output
count has always been."""


def with_output_estimate(usage: Usage, estimate: int) -> Usage:
    """``usage`` with ``estimate`` (the answer's text, counted) as its output when the provider's
    says 0 output beside text that counts above 0 (:data:`ZERO_OUTPUT`); as it is otherwise."""
    if usage.output_tokens or estimate <= 0 or usage.source != "provider":
        return usage
    return replace(usage, output_tokens=estimate, total_tokens=usage.input_tokens + estimate, source="estimate",
                   notes=(*usage.notes, ZERO_OUTPUT))


def zero_usage(usage: Usage, estimate: int) -> bool:
    """Whether ``usage``, a provider's, counts nothing at all for a request whose input
    ``estimate`` is above 0 (:data:`ZERO_USAGE`): nothing else it says (units, a reported
    cost, a tool's model) either."""
    return (estimate > 0 and usage.source == "provider" and usage.input_tokens == 0 and usage.output_tokens == 0
            and not usage.units and usage.reported_usd is None and not usage.other_models)


def with_input_estimate(usage: Usage, estimate: int) -> Usage:
    """``usage`` with the request's input estimate when its object named no input count
    (:data:`NO_INPUT`), or named 0 beside some output for a request with input
    (:data:`ZERO_INPUT`); as it is otherwise."""
    if NO_INPUT not in usage.notes:
        if not (usage.input_tokens == 0 and usage.output_tokens > 0 and estimate > 0 and usage.source == "provider"):
            return usage
        usage = replace(usage, notes=(*usage.notes, ZERO_INPUT))
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


def merge_counts(into: dict[str, int], counts: Mapping[str, int]) -> None:
    """Fold a stream event's cumulative counts into ``into``: each field keeps its largest
    value. Cumulative counts never shrink, so a later, larger value is the newer one, and a
    placeholder ``0`` (a ``message_delta`` of some Anthropic-compatible servers, a Gemini chunk
    before the answer) never wipes a count already reported; nothing is ever added twice."""
    for name, value in counts.items():
        if value > into.get(name, -1):
            into[name] = value


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

