"""Usage from provider responses, normalized as SPEC section 5 says.

``input_tokens`` counts all input, cached and cache-creation tokens included (Anthropic reports
them apart: they are added); ``output_tokens`` includes reasoning tokens (Gemini reports
thoughts apart: they are added); ``total_tokens`` is always ``input + output``.

Everything here is pure: payloads in, values out, no I/O. Bad payloads never raise out of
:func:`extract_usage`; they give an estimate whose ``notes`` say why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Source = Literal["provider", "estimate", "none"]  # none: never forwarded, nothing used

_MAX_TOKENS = 2**53  # anything larger is not a token count


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    source: Source = "provider"
    model: str | None = None  # the served model, when the response names it
    notes: tuple[str, ...] = field(default=(), compare=True)

    @classmethod
    def of(
        cls,
        input_tokens: int,
        output_tokens: int,
        *,
        cached_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
        reasoning_tokens: int = 0,
        source: Source = "provider",
        model: str | None = None,
        notes: tuple[str, ...] = (),
    ) -> Usage:
        # built through the slots, in field order: the frozen __init__'s object.__setattr__
        # per field cost more than the rest of a limit's estimate (a Usage per limit action)
        u = _new(cls)
        for put, value in zip(_PUTS, (input_tokens, output_tokens, cached_input_tokens, cache_creation_input_tokens,
                                      reasoning_tokens, input_tokens + output_tokens, source, model, notes)):
            put(u, value)
        return u

    def to_dict(self) -> dict[str, Any]:
        """The ``ai.usage`` object of the CEL environment and of the decision."""
        # written out (a comprehension of getattr took twice as long); in TOKEN_FIELDS' order,
        # which tests/providers/test_usage_dict.py holds it to
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cached_input_tokens": self.cached_input_tokens,
                "cache_creation_input_tokens": self.cache_creation_input_tokens,
                "reasoning_tokens": self.reasoning_tokens, "total_tokens": self.total_tokens,
                "source": self.source}

    def counts(self) -> dict[str, int]:
        """The token counts, by :data:`TOKEN_FIELDS` name."""
        return {name: getattr(self, name) for name in TOKEN_FIELDS}

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
    """A token count, or None when ``value`` is not a sane non-negative integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < _MAX_TOKENS else None
    if isinstance(value, float) and value.is_integer() and 0 <= value < _MAX_TOKENS:
        return int(value)
    return None


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
    (``input_tokens``) usage objects; also what vLLM and Ollama's OpenAI API send."""
    if not isinstance(u, Mapping):
        return None
    if "input_tokens" in u or "output_tokens" in u:  # responses API
        inp, out = tok(u.get("input_tokens")), tok(u.get("output_tokens", 0))
        cached = _n(u, "input_tokens_details", "cached_tokens")
        reasoning = _n(u, "output_tokens_details", "reasoning_tokens")
    else:
        inp, out = tok(u.get("prompt_tokens")), tok(u.get("completion_tokens", 0))
        cached = _n(u, "prompt_tokens_details", "cached_tokens")
        reasoning = _n(u, "completion_tokens_details", "reasoning_tokens")
    if inp is None or out is None:
        return None
    return Usage.of(inp, out, cached_input_tokens=cached, reasoning_tokens=reasoning)


_ANTHROPIC_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
)


def anthropic_fields(u: object) -> dict[str, int]:
    """The valid Anthropic counts present in ``u`` (for cumulative stream merging)."""
    if not isinstance(u, Mapping):
        return {}
    found: dict[str, int] = {}
    for name in _ANTHROPIC_FIELDS:
        value = tok(u.get(name))
        if value is not None:
            found[name] = value
    return found


def anthropic_usage_from_fields(f: Mapping[str, int]) -> Usage | None:
    if "input_tokens" not in f and "output_tokens" not in f:
        return None
    cached = f.get("cache_read_input_tokens", 0)
    created = f.get("cache_creation_input_tokens", 0)
    return Usage.of(
        f.get("input_tokens", 0) + cached + created,
        f.get("output_tokens", 0),
        cached_input_tokens=cached,
        cache_creation_input_tokens=created,
    )


def anthropic_usage(u: object) -> Usage | None:
    return anthropic_usage_from_fields(anthropic_fields(u))


def gemini_usage(m: object) -> Usage | None:
    """``usageMetadata``: prompt (cached included) + tool-use prompt; candidates + thoughts."""
    if not isinstance(m, Mapping):
        return None
    prompt = tok(m.get("promptTokenCount", 0))
    candidates = tok(m.get("candidatesTokenCount", 0))
    if prompt is None or candidates is None:
        return None
    if "promptTokenCount" not in m and "candidatesTokenCount" not in m:
        return None
    thoughts = _n(m, "thoughtsTokenCount")
    tool_prompt = _n(m, "toolUsePromptTokenCount")
    return Usage.of(
        prompt + tool_prompt,
        candidates + thoughts,
        cached_input_tokens=_n(m, "cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def ollama_usage(obj: object) -> Usage | None:
    """Ollama's native API (``/api/chat``, ``/api/generate``, ``/api/embed``)."""
    if not isinstance(obj, Mapping):
        return None
    prompt = tok(obj.get("prompt_eval_count"))
    if prompt is None:
        return None
    return Usage.of(prompt, _n(obj, "eval_count"))


def usage_from_body(provider: str, body: object) -> Usage | None:
    """Usage from a complete (non-streamed) JSON response body, or None."""
    if provider == "anthropic":
        usage = anthropic_usage(_get(body, "usage"))
    elif provider == "gemini":
        if isinstance(body, list):  # streamGenerateContent without alt=sse: a JSON array
            usage = None
            model = None
            for item in body:
                usage = gemini_usage(_get(item, "usageMetadata")) or usage
                model = _model(item) or model
            return usage.with_model(model) if usage else None
        usage = gemini_usage(_get(body, "usageMetadata"))
    elif provider == "ollama" and isinstance(body, Mapping) and "usage" not in body:
        usage = ollama_usage(body)
    else:
        usage = openai_usage(_get(body, "usage"))
        if usage is None and isinstance(_get(body, "response"), Mapping):
            usage = openai_usage(_get(body, "response", "usage"))
    if usage is None:
        return None
    return usage.with_model(_model(body) if isinstance(body, Mapping) else None)


# ---------------------------------------------------------------------------------------------
# output text, for estimates when a response carries no usage


def output_text(provider: str, body: object) -> str:
    """The generated text of a JSON response (best effort, for estimates)."""
    parts: list[str] = []
    if provider == "anthropic":
        for block in _list(_get(body, "content")):
            for key in ("text", "thinking"):
                if isinstance(_get(block, key), str):
                    parts.append(block[key])
            if isinstance(_get(block, "input"), Mapping):
                parts.append(_dumps(block["input"]))
    elif provider == "gemini":
        items = body if isinstance(body, list) else [body]
        for item in items:
            for cand in _list(_get(item, "candidates")):
                for part in _list(_get(cand, "content", "parts")):
                    if isinstance(_get(part, "text"), str):
                        parts.append(part["text"])
    else:
        for choice in _list(_get(body, "choices")):
            for path in (("message", "content"), ("text",), ("message", "reasoning_content")):
                value = _get(choice, *path)
                if isinstance(value, str):
                    parts.append(value)
            for call in _list(_get(choice, "message", "tool_calls")):
                if isinstance(_get(call, "function", "arguments"), str):
                    parts.append(call["function"]["arguments"])
        for item in _list(_get(body, "output")):  # responses API
            for content in _list(_get(item, "content")):
                if isinstance(_get(content, "text"), str):
                    parts.append(content["text"])
        for path in (("message", "content"), ("response",)):  # ollama native
            value = _get(body, *path)
            if isinstance(value, str):
                parts.append(value)
    return "".join(parts)


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
