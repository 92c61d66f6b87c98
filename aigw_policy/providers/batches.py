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
at the batch price, with the first read (``GET /v1/batches/{id}``) that finds it finished."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from .usage import Usage

__all__ = ["BATCH_NOTE", "BATCH_PENDING_NOTE", "MAX_BATCH_REQUESTS", "batch_requests", "batch_state",
           "finished_batch"]

BATCH_NOTE = "batch of "
"""How the classification note of a batch creation starts (``batch of 3 requests: ...``)."""

MAX_BATCH_REQUESTS = 100_000
"""The most inner requests read (Anthropic's limit per batch); the rest are not counted (noted)."""

BATCH_PENDING_NOTE = "batch not run yet: its usage is charged, at the batch price, when a read finds it finished"
"""The note of an OpenAI file batch's creation (and cancel): 0 tokens, nothing has run yet."""

_RUNNING = frozenset(("validating", "in_progress", "finalizing", "cancelling"))
_FINISHED = frozenset(("completed", "expired", "cancelled", "failed"))

_GEMINI = re.compile(r"^(.*/models/[^/:]+):(batchGenerateContent|asyncBatchEmbedContent)$")
_GEMINI_ONE = {"batchGenerateContent": ":generateContent", "asyncBatchEmbedContent": ":embedContent"}


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
