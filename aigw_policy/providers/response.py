"""Response -> usage: the one entry point for JSON bodies and SSE/NDJSON streams."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .background import ASYNC_PENDING_NOTE, DEFERRED_PENDING_NOTE, PENDING_NOTE, async_result, background_of, deferred
from .background import background_state
from .classify import AiRequest
from .encoding import codings, decode_body
from .errors import ProviderError
from .sse import StreamUsage, _error_kind
from .tokens import DEFAULT_COUNTER, TokenCounter
from .batch_results import results_usage
from .batches import BATCH_NOTE, BATCH_PENDING_NOTE, finished_batch, gemini_batch_usage
from .billed import reported_cost
from .bedrock_invoke import header_usage
from .body_usage import output_text, usage_from_body
from .usage import (_MAX_TOKENS, DEFAULT_TIERS, ZERO_USAGE, Usage, _get, loads, profiled, served_model, service_tier, tok,
                    with_input_estimate, with_output_estimate, with_tier, zero_usage)
from .usage_gemini import traffic_tier
from .usage_openai import BESIDE
from .vendor_usage import ollama_output_only

FAST_USAGE = True
"""Read the usage of a parsed OpenAI-shaped JSON body with plain dict lookups when it has the
usual shape (:func:`_openai_fast`), else the general way (False: always the general way;
tests/providers/test_usage_fast_path.py compares the two)."""

_WRITES = frozenset(("chat", "completion", "responses", "messages"))  # operations whose answer is text the model wrote
_SPECIAL = frozenset(("anthropic", "gemini", "ollama", "cohere", "bedrock"))  # APIs whose bodies usage_from_body reads its own way


def stream_usage(ai: AiRequest, *, counter: TokenCounter = DEFAULT_COUNTER) -> StreamUsage:
    """A fresh accumulator for a streamed response to ``ai`` (feed bytes, then finish)."""
    return StreamUsage(_api(ai), input_estimate=ai.input_tokens, counter=counter, model=ai.model,
                       profile=ai.model if ai.provider == "bedrock" else None, writes=ai.max_output_tokens != 0)


def _api(ai: AiRequest) -> str:
    return ai.api if ai.api != "unknown" else "openai"


def _header(headers: object, name: str) -> str:
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == name:
                if isinstance(value, list):
                    value = value[0] if value else ""
                return value if isinstance(value, str) else ""
    return ""


def extract_usage(
    ai: AiRequest, response: Mapping[str, Any], *, counter: TokenCounter = DEFAULT_COUNTER
) -> Usage:
    """Usage of a finished response ``{status_code, headers, body}`` or ``{..., sse: text}``.

    Never raises on payload content: unreadable or usage-less responses give an estimate
    (``source == "estimate"``, ``notes`` say why). An upstream error (status >= 400) without
    usage is 0 output tokens and the input estimate, marked as an estimate. A ``bytes`` body
    (or ``sse``) is decoded first by its ``Content-Encoding`` (gzip, deflate, br, zstd).
    """
    if type(response) is dict and FAST_USAGE:
        body = response.get("body")
        # a parsed body and no stream: the headers (type, coding) change nothing, nor the status
        # once the body has usage
        if type(body) is dict and response.get("sse") is None and ai.api not in _SPECIAL and ai.inference:
            found = _openai_fast(body)
            if found is not None:  # (Bedrock's OpenAI-compatible host: as its streams are, below)
                return found if ai.provider != "bedrock" else with_tier(profiled(found, ai.model), bedrock_tier(response))
    usage = _extract_usage(ai, response, counter)
    if ai.api == "gemini" and isinstance(response, Mapping):
        return with_tier(usage, gemini_tier(response))
    if ai.provider == "bedrock" and isinstance(response, Mapping):
        return with_tier(profiled(usage, ai.model), bedrock_tier(response))
    return usage


def _async_usage(ai: AiRequest, response: Mapping[str, Any], job: str, counter: TokenCounter) -> Usage:
    """What a read of a finished Perplexity async job charges: its chat completion's usage (a
    failed job ran nothing: 0, noted)."""
    result = async_result(response)
    if result is None:
        return Usage.of(0, 0, source="estimate", model=ai.model, notes=(
            f"async request `{job}` failed: nothing ran, nothing charged",))
    read = _extract_usage(replace(ai, inference=True, operation="chat"), {
        "status_code": response.get("status_code"), "headers": {}, "body": result}, counter)
    return replace(read, notes=(*read.notes, f"async request `{job}` completed"))


def bedrock_tier(response: Mapping[str, Any]) -> str | None:
    """The service tier a Bedrock InvokeModel answer (JSON or stream, every family) was served
    at, as its ``X-Amzn-Bedrock-Service-Tier`` header says (``priority``, ``flex``,
    ``reserved``); None for ``default`` or none (Converse names it in its body, read there)."""
    return service_tier(_header(response.get("headers"), "x-amzn-bedrock-service-tier").strip().lower() or None)


def gemini_tier(response: Mapping[str, Any]) -> str | None:
    """The service tier a Gemini answer was served at (``flex``, ``priority``), as its
    ``x-gemini-service-tier`` header says (the tier asked for, or ``standard`` where a priority
    request was served at the standard tier), an Interactions answer's ``service_tier``, or
    Vertex AI's ``usageMetadata.trafficType`` (:data:`~.usage_gemini.TRAFFIC_TIERS`); None for the
    standard tier. Priced by genai-prices' tier prices where it has them."""
    tier = _header(response.get("headers"), "x-gemini-service-tier")
    body = response.get("body")
    if not tier and isinstance(body, list):  # streamGenerateContent without alt=sse: the last chunk's
        body = next((item for item in reversed(body) if isinstance(_get(item, "usageMetadata"), Mapping)), None)
    if not tier and isinstance(body, Mapping) and isinstance(body.get("service_tier"), str):
        tier = body["service_tier"]
    if not tier and isinstance(body, Mapping):  # Vertex AI's: in the usage, as the quota it was served from
        return traffic_tier(body.get("usageMetadata"))
    tier = tier.strip().lower()
    return service_tier(tier.removeprefix("service_tier_")) if tier else None


def _extract_usage(ai: AiRequest, response: Mapping[str, Any], counter: TokenCounter) -> Usage:
    """:func:`extract_usage` but for its fast path and the service tier of a Gemini answer."""
    if not isinstance(response, Mapping):
        return Usage.of(ai.input_tokens, 0, source="estimate", model=ai.model, notes=("response is not an object",))
    # (a POST's JSON answer, or a read's: a POST's stream is read as any other, its usage charged by the engine;
    # a batch's creation or cancel is `other`, its answer parsed when its text names a batch)
    background = background_of(ai.api, ai.operation, response, ai.provider, ai.notes) if ai.api != "openai" or \
        not ai.inference or ai.operation == "other" or isinstance(response.get("body"), Mapping) or \
        deferred(ai.provider, ai.notes) else None
    if background is not None and background[0] == "pending" and ai.inference:
        # the model runs later: its usage comes with the read that finds it done
        return Usage.of(0, 0, source="estimate", model=ai.model, notes=(
            DEFERRED_PENDING_NOTE if deferred(ai.provider, ai.notes) else ASYNC_PENDING_NOTE
            if ai.provider == "perplexity" else BATCH_PENDING_NOTE if background[1].startswith("batch_") else
            PENDING_NOTE,))
    if background is not None and background[0] == "finished" and not ai.inference:
        # that read (a GET, polled or resumed as a stream): the usage, charged once (engine: under charge_id)
        if ai.api == "anthropic":  # a Message Batch's results: their output (their input: at creation)
            return results_usage(_decoded_body(response), background[1])
        if background[1].startswith("batches/"):  # a Gemini inline batch's: its output (its input: at creation)
            body = response.get("body")
            return gemini_batch_usage(body if isinstance(body, Mapping) else loads(body)[0], background[1])
        if ai.provider == "perplexity" and ai.api == "openai":  # an async job's: its `response`, a chat completion
            return _async_usage(ai, response, background[1], counter)
        if deferred(ai.provider, ai.notes):  # a deferred chat completion's result: the answer is the completion
            read = _extract_usage(replace(ai, inference=True, operation="chat"), response, counter)
            return replace(read, notes=(*read.notes, f"deferred completion `{background[1]}` read"))
        read = _extract_usage(replace(ai, inference=True), response, counter)
        if background[1].startswith("batch_"):  # an OpenAI file batch's (providers/batches.py)
            return finished_batch(read, background[1], ai.model)
        return replace(read, notes=(*read.notes, f"background response `{background[1]}` finished"))
    if not ai.inference:  # a read of a stored response (its usage is the call's, charged then): nothing ran
        return Usage.of(0, 0, model=ai.model, notes=("no inference (a read, or a call that runs no model): its usage is not charged",))
    api = _api(ai)
    status = response.get("status_code")
    failed = isinstance(status, int) and not isinstance(status, bool) and status >= 400
    stream = response.get("sse")
    body = response.get("body")
    ctype = _header(response.get("headers"), "content-type").lower()
    coding = _header(response.get("headers"), "content-encoding")
    if codings(coding):
        try:
            stream, body = _decoded(stream, coding), _decoded(body, coding)
        except ProviderError as error:
            return Usage.of(ai.input_tokens, 0, source="estimate", model=ai.model,
                            notes=(f"response body: {error.message}",))
    if stream is None and isinstance(body, (str, bytes)) and (
        "text/event-stream" in ctype or "ndjson" in ctype or "vnd.amazon.eventstream" in ctype
        or "stream+json" in ctype
        or (ai.stream and not _looks_like_json(body, api))
    ):
        stream = body
    if isinstance(stream, (str, bytes, bytearray)):
        usage = _from_stream(ai, api, stream, None, status if failed else None, counter)
        if usage.source == "estimate" and ai.operation == "responses" and api == "openai" and \
                background_state({"sse": stream}) is not None:  # cut, the response runs on: read back later
            return Usage.of(0, 0, source="estimate", model=usage.model, notes=(*usage.notes, PENDING_NOTE))
        if usage.source == "estimate" and not failed and ai.operation == "other" and _speech_events(stream):
            return speech_estimate(ai)  # a speech stream cut before its `speech.audio.done`
        return usage
    if not failed and ctype.startswith("audio/"):
        return speech_estimate(ai)

    notes: list[str] = []
    if isinstance(body, (str, bytes, bytearray)):
        text = body
        body, err = loads(body) if body else ({}, None)
        if err and api == "gemini" and _opens_array(text):
            # a streamGenerateContent JSON array cut off (or with garbage after it): read the
            # chunks that arrived, as a stream
            return _from_stream(ai, api, text, "json-array", status if failed else None, counter)
        if err:
            notes.append(f"response body: {err}")
    found = usage_from_body(api, body) if not notes else None
    if found is None and ai.provider == "bedrock":  # InvokeModel's counts, in its headers (a body without)
        found = header_usage(lambda name: _header(response.get("headers"), name))
    if found is None and ai.operation in ("embeddings", "other") and not notes:
        found = _total_only(body)  # embeddings, and reranks (Voyage's, Jina's, vLLM's): no output
    if found is None and api == "ollama" and not notes:
        found = ollama_output_only(body, ai.input_tokens)
    if found is None and not failed and not notes:
        found = _cost_only(ai, body)
    if found is None and not failed and ai.operation == "other" and any(n.startswith(BATCH_NOTE) for n in ai.notes):
        return Usage.of(ai.input_tokens, 0, source="estimate", model=ai.model, service_tier="batch", notes=(
            "batch created: its requests' input estimate, at the batch price; its output is charged when its "
            "results are read",))
    if found is not None and zero_usage(found, ai.input_tokens):
        found = None  # a placeholder: estimated below, from the request and the answer's text
        notes.append(ZERO_USAGE)
    if found is not None:
        if (found.output_tokens == 0 and found.source == "provider" and ai.operation in _WRITES and body
                and ai.max_output_tokens != 0):  # (asked for none: `echo: true, max_tokens: 0` echoes the prompt)
            found = with_output_estimate(found, counter.count(output_text(api, body), ai.model))
        found = with_input_estimate(found, ai.input_tokens)
        return found if found.model else found.with_model(ai.model)
    if failed or not notes and error_object(body):  # a 2xx whose body is an error (some proxies): an error
        return Usage.of(ai.input_tokens, 0, source="estimate", model=ai.model,
                        notes=(*notes, _error_note(status if failed else status or 200, body,
                                                   _header(response.get("headers"), "x-amzn-errortype"))))
    if ai.operation == "other" and _token_count(api, body):
        return Usage.of(0, 0, model=ai.model, notes=("token counting is not billed",))
    if ZERO_USAGE not in notes:
        notes.append("no usage in response")
    out = counter.count(output_text(api, body), ai.model) if body else 0
    return Usage.of(ai.input_tokens, out, source="estimate", model=ai.model, notes=tuple(notes))


SPEECH_TOKENS_PER_CHARACTER = 1.25
"""Audio tokens a character of a speech request's text becomes: OpenAI prices its speech at
about 1,000 characters a minute (tts-1: $15 per million characters, "~$0.015 a minute") and
gpt-4o-mini-tts's audio at 1,250 tokens a minute ($12 per million output tokens, "~$0.015 a
minute")."""


def speech_estimate(ai: AiRequest) -> Usage:
    """The usage of a speech answer (``/audio/speech``: the audio itself, ``audio/*``), which
    names none: the request's text estimates both what the models billed by the token bill
    (gpt-4o-mini-tts: its input tokens, and the audio's output tokens,
    :data:`SPEECH_TOKENS_PER_CHARACTER`) and what those billed by the character do (tts-1,
    Groq's Orpheus: its characters, exact), so that neither costs the input alone (the output
    is ~99% of gpt-4o-mini-tts's price) nor unknown (tts-1)."""
    chars = len(ai.prompt)
    out = math.ceil(chars * SPEECH_TOKENS_PER_CHARACTER)
    return Usage.of(ai.input_tokens, out, source="estimate", model=ai.model,
                    units=tuple((k, n) for k, n in (("output_audio_tokens", out), ("input_characters", chars)) if n),
                    notes=(f"speech answer without usage: {out} audio tokens estimated from the "
                           f"{chars} characters of its text",))


def _speech_events(stream: str | bytes | bytearray) -> bool:
    """Whether a stream is a speech answer's (``stream_format: "sse"``: ``speech.audio.delta``)."""
    head = stream[:4096]
    return '"speech.audio.' in head if isinstance(head, str) else b'"speech.audio.' in head


_ANSWER_KEYS = frozenset(("choices", "candidates", "output", "content", "message", "data", "response", "steps",
                          "outputs", "text", "embeddings", "embedding", "predictions", "results", "generations"))
"""Keys of an answer that carries what the model made: a body with one is no error object (but a
``message`` string: an error's text)."""


def error_object(body: object) -> bool:
    """Whether a JSON answer body is an error and nothing else (what a failed call answers, some
    providers and proxies with a 200): ``{"error": ...}`` (OpenAI's, Anthropic's ``{"type":
    "error", "error": ...}``, Gemini's, Ollama's ``{"error": "..."}``), vLLM's and Mistral's
    ``{"object": "error", ...}``, Bedrock's ``{"__type", "message"}``, a Gemini stream array of
    them; never a body that also has a ``usage`` or what the model made (:data:`_ANSWER_KEYS`).

    >>> error_object({"error": {"type": "server_error"}}), error_object({"error": None, "choices": []})
    (True, False)
    """
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, Mapping) or "usage" in body or "usageMetadata" in body or any(
            k in _ANSWER_KEYS and not (k == "message" and isinstance(v, str)) for k, v in body.items()):
        return False  # (an error's `message` is its text: Ollama's chat answer's is an object)
    error = body.get("error")
    return (isinstance(error, (Mapping, str)) and bool(error)) or body.get("object") == "error" or (
        isinstance(body.get("__type"), str) and "message" in body)


def _cost_only(ai: AiRequest, body: object) -> Usage | None:
    """The usage of an answer whose ``usage`` names what it cost and no token count (xAI's
    image and video generations: ``usage: {cost_in_usd_ticks}``): the input estimated, no
    output, priced from that figure (for the labels of ``prices.REPORTED_COST`` only)."""
    if not isinstance(body, Mapping):
        return None
    u = body.get("usage")
    if not isinstance(u, Mapping) or ("cost" not in u and "cost_in_usd_ticks" not in u):
        return None
    usd = reported_cost(u)
    if usd is None:
        return None
    return Usage.of(ai.input_tokens, 0, source="estimate", model=served_model(body.get("model")) or ai.model,
                    notes=("no token counts: priced by the cost the answer reports",), reported_usd=usd)


def _total_only(body: object) -> Usage | None:
    """The usage of an embeddings (or rerank, score...: operation ``other``) answer that names
    only its total (Voyage AI's ``usage: {total_tokens}``, its and vLLM's reranks'): neither
    has output, so the total is the input. A chat's lone total says nothing of its output."""
    u = body.get("usage") if isinstance(body, Mapping) else None
    if not isinstance(u, Mapping) or u.get("prompt_tokens") is not None or u.get("input_tokens") is not None:
        return None  # (a null count is the key not written)
    total = tok(u.get("total_tokens"))
    if total is None:
        return None
    return Usage.of(total, 0, model=served_model(body.get("model")))  # type: ignore[union-attr]


def _openai_fast(body: dict[str, Any]) -> Usage | None:
    """``usage_from_body`` of an OpenAI chat completion (or completion, embedding) body with
    integer ``prompt_tokens`` and ``completion_tokens`` and a ``model`` string, the usual
    shape; None for anything else (the general way reads it), a body with an ``output`` (the
    Responses API's search calls, billed apart), a ``tool_usage`` (its image model's) or a
    ``usage_breakdown`` (Groq's compound systems' models) among them."""
    u = body.get("usage")
    if type(u) is not dict or "input_tokens" in u or "output_tokens" in u or not BESIDE.isdisjoint(u) or "cost" in u \
            or "cost_in_usd_ticks" in u or "prompt_audio_seconds" in u or "output" in body or "tool_usage" in body \
            or body.get("usage_breakdown") is not None:
        return None
    inp = u.get("prompt_tokens")
    out = u.get("completion_tokens", 0)
    model = body.get("model")
    if (type(inp) is not int or type(out) is not int or not 0 < inp < _MAX_TOKENS or not 0 <= out < _MAX_TOKENS
            or type(model) is not str or not model or out == 0 and "choices" in body):
        return None  # (0 output beside choices: the general way, which looks at their text)
    cached = reasoning = 0
    details = u.get("prompt_tokens_details")
    if details is not None:
        if type(details) is not dict or details.get("audio_tokens") or details.get("cache_write_tokens") \
                or details.get("image_tokens"):
            return None  # audio, images and cache writes are priced apart: the general way
        cached = details.get("cached_tokens", 0)
    details = u.get("completion_tokens_details")
    if details is not None:
        if type(details) is not dict or details.get("audio_tokens") or details.get("image_tokens"):
            return None
        reasoning = details.get("reasoning_tokens", 0)
    total = u.get("total_tokens") if "total_tokens" in u else None
    if (type(cached) is not int or type(reasoning) is not int or not 0 <= cached <= inp or not 0 <= reasoning <= out
            or total is not None and not (type(total) is int and total <= inp + out)):
        return None  # clamped or made up to the total, with a note, the general way
    tier = body.get("service_tier")
    if tier is not None and (type(tier) is not str or tier not in DEFAULT_TIERS):
        return None  # a tier with its own prices (or not a name: read as none), the general way
    return Usage.of(inp, out, cached_input_tokens=cached, reasoning_tokens=reasoning, model=model[:256])


def _from_stream(ai: AiRequest, api: str, text: str | bytes | bytearray, framing: str | None,
                 failed_status: int | None, counter: TokenCounter) -> Usage:
    """The usage of a streamed answer; an error status without usage: the input estimate."""
    acc = StreamUsage(api, input_estimate=ai.input_tokens, counter=counter, model=ai.model, framing=framing,
                      writes=ai.max_output_tokens != 0)
    acc.feed(bytes(text) if not isinstance(text, str) else text)
    usage = acc.finish()
    if failed_status is not None and usage.source == "estimate":
        return Usage.of(ai.input_tokens, 0, source="estimate", model=usage.model,
                        notes=(f"upstream error {failed_status}",))
    return usage


def _error_note(status: object, body: object, aws_kind: str = "") -> str:
    """``upstream error 429: rate_limit_exceeded``: the status and the error's kind as the
    provider names it (OpenAI ``error.code``/``type``, Anthropic ``error.type``, Gemini
    ``error.status``, also inside Gemini's stream array); never its message, which may quote
    the request."""
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, Mapping) else None
    if error is None and isinstance(body, Mapping) and body.get("object") == "error":
        error = body  # vLLM's (older) ErrorResponse, Mistral's: its kind at the top level
    kind = _error_kind(error)  # as a stream's error event is read (an HTTP status as the code: the status's own)
    if kind == str(status):
        kind = ""
    if not kind and isinstance(body, Mapping):
        detail = body.get("detail")  # a validation error of FastAPI's (Mistral's 422): `detail: [{type, loc, msg}]`
        if isinstance(detail, list) and detail and isinstance(detail[0], Mapping) and isinstance(
                detail[0].get("type"), str):
            kind = detail[0]["type"][:64]
        elif isinstance(body.get("__type"), str):  # Bedrock's, as botocore reads it without the header
            aws_kind = aws_kind or body["__type"].rpartition("#")[2]
    if not kind and aws_kind:  # Bedrock's errors: `{"message"}`, the kind in `X-Amzn-ErrorType` (`Kind:uri`)
        kind = aws_kind.partition(":")[0].strip()
    return f"upstream error {status}: {kind[:64]}" if kind else f"upstream error {status}"


def _token_count(api: str, body: object) -> bool:
    """Whether ``body`` answers a token-counting call (Anthropic ``/v1/messages/count_tokens``:
    ``{"input_tokens": n}``; Gemini and Vertex ``:countTokens``: ``{"totalTokens": n}``; the
    Responses API's ``/v1/responses/input_tokens``: ``{"object": "response.input_tokens",
    "input_tokens": n}``): the providers do not bill them, so they use no tokens."""
    if not isinstance(body, Mapping) or "usage" in body or "usageMetadata" in body:
        return False
    if api == "openai":
        return body.get("object") == "response.input_tokens"
    if api == "anthropic":
        return set(body) == {"input_tokens"} or set(body) == {"input_tokens", "context_management"}
    return api == "gemini" and "totalTokens" in body and "candidates" not in body


def _decoded_body(response: Mapping[str, Any]) -> Any:
    """An answer's body (or its ``sse``, when it has no body), its ``Content-Encoding`` undone
    (None when it cannot be)."""
    body = response.get("body")
    if body is None:
        body = response.get("sse")
    coding = _header(response.get("headers"), "content-encoding")
    if not codings(coding):
        return body
    try:
        return _decoded(body, coding)
    except ProviderError:
        return None


def _decoded(value: Any, coding: str) -> Any:
    """Bytes undone from their content coding; text and parsed bodies were decoded already."""
    return decode_body(bytes(value), coding) if isinstance(value, (bytes, bytearray)) else value


def _opens_array(body: str | bytes | bytearray) -> bool:
    head = body[:64].lstrip()
    return head[:1] in ("[", b"[")


def _looks_like_json(body: str | bytes, api: str) -> bool:
    head = body[:64].lstrip()
    if isinstance(head, bytes):
        head = head.decode("utf-8", "replace")
    if api in ("ollama", "cohere"):  # NDJSON (Cohere v1's stream too) also starts with "{": one object only is JSON
        stripped = body.strip()
        return (b"\n" if isinstance(stripped, bytes) else "\n") not in stripped
    return head[:1] in ("{", "[")
