"""Batch creations whose requests are in the body: Anthropic's Message Batches (``POST
/v1/messages/batches``: ``requests: [{custom_id, params}]``, each ``params`` a Messages request)
and Gemini's inline batches (``POST .../models/{model}:batchGenerateContent``: ``batch.input_config
.requests.requests: [{request, metadata}]``, each a ``generateContent`` request; ``inputConfig`` as
google-genai spells it; ``:asyncBatchEmbedContent``, each an ``embedContent`` request). Their answers
carry no usage and their results are read later (``GET``: no inference, charged nothing), so the
creation is where the budget can see them: :func:`batch_requests` gives each inner request to
:func:`~aigw_policy.providers.classify.classify`, and the batch's ``ai.input_tokens`` and
``ai.max_output_tokens`` are their sums (docs/providers.md, "Batches").

OpenAI's ``/v1/batches`` names an uploaded file (``input_file_id``): nothing to count at its
creation. Its Batch object says when it ran and what it used (``status``; ``usage``, the
Responses API's counts summed over its requests, and ``model``, on batches created since
2025-09-07): :func:`batch_state` tells the engine, as :mod:`.background` does for a background
response, to hold the creation's reservation under the batch's id and charge the usage once,
at the batch price, with the first read (``GET /v1/batches/{id}``) that finds it finished.

Perplexity's async request (``POST /async/chat/completions``, :data:`ASYNC_PATHS`: ``{request: {...}}``)
is a batch of one: classified by its inner request, its answer a job that a read finds
``COMPLETED`` with its usage (:func:`~.background.async_state`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal
from collections.abc import Callable
from urllib.parse import urlsplit

from .request_fields import CAPPED_OPERATIONS
from .usage import Usage
from .usage_gemini import gemini_fields, gemini_usage_from_fields

__all__ = ["ASYNC_NOTE", "ASYNC_PATHS", "BATCH_NOTE", "BATCH_PENDING_NOTE", "MAX_BATCH_REQUESTS", "batch_requests", "batch_state", "batch_sums",
           "finished_batch", "gemini_batch_output", "gemini_batch_state", "gemini_batch_usage"]

BATCH_NOTE = "batch of "
"""How the classification note of a batch creation starts (``batch of 3 requests: ...``)."""

MAX_BATCH_REQUESTS = 100_000
"""The most inner requests read (Anthropic's limit per batch); the rest are not counted (noted)."""

ASYNC_PATHS = ("/async/chat/completions", "/v1/async/sonar")
"""The paths that create a Perplexity async request (``{request: {model, messages, ...}}``): a
batch of one, whose answer is a job read back later (:func:`~.background.async_state`)."""

ASYNC_NOTE = "async request: its input estimated; its usage is charged when a read finds it completed"

BATCH_PENDING_NOTE = "batch not run yet: its usage is charged, at the batch price, when a read finds it finished"
"""The note of an OpenAI file batch's creation (and cancel): 0 tokens, nothing has run yet."""

_RUNNING = frozenset(("validating", "in_progress", "finalizing", "cancelling"))
_FINISHED = frozenset(("completed", "expired", "cancelled", "failed"))

_GEMINI = re.compile(r"^(.*/models/[^/:]+):(batchGenerateContent|asyncBatchEmbedContent)$")
_GEMINI_ONE = {"batchGenerateContent": ":generateContent", "asyncBatchEmbedContent": ":embedContent"}


def batch_sums(api: str, url: str, body: Mapping[str, Any],
               classify: Callable[[dict[str, Any]], Any]) -> tuple[int, int | None, str | None, str, int] | None:
    """A batch creation's input estimate, its requests' summed output caps (None when one has
    none), its model (None when they name several), a note and how many of its requests could
    cap their output and do not (each a ``classify``-d inner request); None for no such batch."""
    inner = batch_requests(api, url, urlsplit(url).path, body)
    if inner is None:
        return None
    parts = [classify(one) for one in inner]
    caps = [p.max_output_tokens for p in parts]
    models = {p.model for p in parts}
    more = " (the rest not counted)" if len(inner) == MAX_BATCH_REQUESTS else ""
    note = ASYNC_NOTE if api == "openai" else f"{BATCH_NOTE}{len(parts)} requests{more}: their input estimated"
    return (sum(p.input_tokens for p in parts), None if None in caps else sum(caps),
            models.pop() if len(models) == 1 else None, note,
            sum(1 for p in parts if not p.max_output_tokens and p.operation in CAPPED_OPERATIONS))


def batch_requests(api: str, url: str, path: str, body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The inner requests of a batch creation (``{method, url, body}``, each as it would be sent
    alone), or None when ``path`` creates no batch of these kinds or names no list of them."""
    if api == "anthropic" and path.rstrip("/").endswith("/v1/messages/batches"):
        items = body.get("requests")
        one = url.split("?", 1)[0].rstrip("/")[: -len("/batches")]
        pick = "params"
    elif api == "gemini" and (m := _GEMINI.match(url.split("?", 1)[0])) is not None:
        # proto3 JSON's two spellings: the REST docs write `input_config`, google-genai sends `inputConfig`
        config = _get(body, "batch", "input_config")
        items = _get(config if config is not None else _get(body, "batch", "inputConfig"), "requests", "requests")
        one = m.group(1) + _GEMINI_ONE[m.group(2)]
        pick = "request"
    elif api == "openai" and path.rstrip("/").endswith(ASYNC_PATHS):  # Perplexity's: one request, run later
        parts = urlsplit(url)
        items, one, pick = [body], f"{parts.scheme}://{parts.netloc}/chat/completions", "request"
    else:
        return None
    if not isinstance(items, list):
        return None
    return [{"method": "POST", "url": one, "body": item[pick]}
            for item in items[:MAX_BATCH_REQUESTS] if isinstance(item, Mapping) and isinstance(item.get(pick), Mapping)]


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def batch_state(body: Mapping[str, Any]) -> tuple[Literal["pending", "finished"], str] | None:
    """``("pending", id)`` for an OpenAI Batch object still running (its creation's answer,
    ``validating``; a read or a cancel before it ends), ``("finished", id)`` for one that ended
    (``completed``, ``expired`` and ``cancelled`` bill the requests that ran, ``failed`` ran
    none), with or without its ``usage``; None for any other body."""
    if body.get("object") != "batch":
        return None
    bid, status = body.get("id"), body.get("status")
    if not isinstance(bid, str) or not bid or not isinstance(status, str):
        return None
    if status in _RUNNING:
        return "pending", bid
    return ("finished", bid) if status in _FINISHED else None


def finished_batch(read: Usage, batch_id: str, model: str | None) -> Usage:
    """The usage a read of a finished batch charges: its ``usage`` (``read``) at the batch
    price (``service_tier: batch``), or, when it names none (a batch created before
    2025-09-07, Azure OpenAI's), nothing, with a note saying so."""
    if read.source != "provider":
        return Usage.of(0, 0, source="estimate", model=read.model or model, notes=(
            f"batch `{batch_id}` finished, but its answer names no usage: charged nothing "
            "(its requests' usage is in its output file)",))
    return replace(read, service_tier="batch", notes=(
        *read.notes, f"batch `{batch_id}` finished: its usage, at the batch price"))


_GEMINI_DONE = frozenset(f"{kind}_STATE_{end}" for kind in ("BATCH", "JOB")
                         for end in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"))
"""A Gemini batch's states once it ended (the REST API's ``BATCH_STATE_*``, google-genai's
``JOB_STATE_*``): the requests that ran have their answers, with their usage, inline."""


def gemini_batch_state(body: object) -> tuple[Literal["finished"], str] | None:
    """``("finished", name)`` for the answer of a read of a Gemini inline batch that ended
    (``GET .../batches/{id}``: an operation whose ``metadata`` is the batch, ``state`` ended,
    ``output.inlinedResponses`` its requests' answers, each with its ``usageMetadata``); None for
    any other body: a batch still running (its creation's input is charged when it is made:
    nothing is held), one whose results are in a file (``responsesFile``: a download, not read)."""
    if isinstance(body, (str, bytes, bytearray)):
        text = body if isinstance(body, str) else bytes(body).decode("utf-8", "replace")
        if '"batches/' not in text[:4096] or "inlinedResponses" not in text:
            return None  # (one scan: any other answer of megabytes is not parsed)
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            return None
    if not isinstance(body, Mapping):
        return None
    name = body.get("name")
    if not isinstance(name, str) or not name.startswith("batches/") or len(name) > 256:
        return None
    batch = body.get("metadata") if isinstance(body.get("metadata"), Mapping) else body
    state = batch.get("state")
    if not isinstance(state, str) or state not in _GEMINI_DONE or not gemini_batch_output(body):
        return None
    return "finished", name


def gemini_batch_output(body: Mapping[str, Any]) -> list[Any]:
    """The answers inline in a Gemini batch (its operation's ``metadata.output`` or ``response``,
    or the batch's own ``output``), each ``{response, metadata}`` or ``{error}``."""
    for where in (_get(body, "metadata", "output"), body.get("response"), body.get("output")):
        found = _get(where, "inlinedResponses", "inlinedResponses")
        if isinstance(found, list) and found:
            return found
    return []


def gemini_batch_usage(body: object, name: str) -> Usage:
    """What a read of a finished Gemini inline batch charges: its answers' output (their
    ``usageMetadata`` summed: candidates and thoughts, and their modalities), at the batch price.
    Its input was charged at its creation (the requests were in its body, classified there), so
    it is not charged twice; a batch whose answers name no usage charges nothing, with a note."""
    counts: dict[str, int] = {}
    body = body if isinstance(body, Mapping) else {}
    for item in gemini_batch_output(body):
        fields = gemini_fields(_get(item, "response", "usageMetadata"))
        for key, value in fields.items():
            counts[key] = counts.get(key, 0) + value
    whole = gemini_usage_from_fields(counts) if counts else None
    model = _get(body, "metadata", "model")
    model = model.removeprefix("models/")[:256] if isinstance(model, str) and model else None
    if whole is None:
        return Usage.of(0, 0, source="estimate", model=model, notes=(
            f"batch `{name}` finished, but its answers name no usage: charged nothing",))
    units = tuple((unit, n) for unit, n in whole.units if unit.startswith("output_"))
    return Usage.of(0, whole.output_tokens, reasoning_tokens=whole.reasoning_tokens, model=model, units=units,
                    service_tier="batch", notes=(
                        f"batch `{name}` finished: its output, at the batch price (its input, "
                        f"{whole.input_tokens:,} tokens, was charged at its creation)",))
