"""Batch creations whose requests are in the body: Anthropic's Message Batches (``POST
/v1/messages/batches``: ``requests: [{custom_id, params}]``, each ``params`` a Messages request)
and Gemini's inline batches (``POST .../models/{model}:batchGenerateContent``: ``batch.input_config
.requests.requests: [{request, metadata}]``, each a ``generateContent`` request). Their answers
carry no usage and their results are read later (``GET``: no inference, charged nothing), so the
creation is where the budget can see them: :func:`batch_requests` gives each inner request to
:func:`~aigw_policy.providers.classify.classify`, and the batch's ``ai.input_tokens`` and
``ai.max_output_tokens`` are their sums (docs/providers.md, "Batches"). OpenAI's ``/v1/batches``
names an uploaded file (``input_file_id``): nothing to count."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["BATCH_NOTE", "MAX_BATCH_REQUESTS", "batch_requests"]

BATCH_NOTE = "batch of "
"""How the classification note of a batch creation starts (``batch of 3 requests: ...``)."""

MAX_BATCH_REQUESTS = 100_000
"""The most inner requests read (Anthropic's limit per batch); the rest are not counted (noted)."""

_GEMINI = re.compile(r"^(.*/models/[^/:]+):batchGenerateContent$")


def batch_requests(api: str, url: str, path: str, body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The inner requests of a batch creation (``{method, url, body}``, each as it would be sent
    alone), or None when ``path`` creates no batch of these kinds or names no list of them."""
    if api == "anthropic" and path.rstrip("/").endswith("/v1/messages/batches"):
        items = body.get("requests")
        one = url.split("?", 1)[0].rstrip("/")[: -len("/batches")]
        pick = "params"
    elif api == "gemini" and (m := _GEMINI.match(url.split("?", 1)[0])) is not None:
        items = _get(body, "batch", "input_config", "requests", "requests")
        one = m.group(1) + ":generateContent"
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
