"""The results of Anthropic's Message Batches: ``GET /v1/messages/batches/{id}/results`` answers a
JSONL file (``application/x-jsonl``), one ``{custom_id, result}`` a line, each ``result`` a
``succeeded`` one with its ``message`` (and the message's ``usage``), or an ``errored``,
``expired`` or ``canceled`` one that ran nothing. The batch's creation was charged its requests'
input estimate, at the batch price (:mod:`.batches`); its output is charged here, once per batch
(the engine: under :func:`~.background.charge_id` of its id), by the first read of the results,
at the batch price (50%), each model's at its own price. Pure; read by :mod:`.classify` (the
read's note, naming the batch: its answer does not), :mod:`.background` and :mod:`.response`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from .usage import Usage
from .usage_anthropic import anthropic_fields, anthropic_usage_from_fields

__all__ = ["results_read", "results_state", "results_usage"]

_NOTE = "batch results `"
_PATH = re.compile(r"/messages/batches/([A-Za-z0-9_-]{1,200})/results/?(?:\?.*)?$")


def results_read(url: str) -> str | None:
    """The classification note of a read of a Message Batch's results, naming the batch; None
    for any other URL.

    >>> results_read("https://api.anthropic.com/v1/messages/batches/msgbatch_01/results")
    'batch results `msgbatch_01`: its output, charged once at the batch price'
    >>> results_read("https://api.anthropic.com/v1/messages/batches/msgbatch_01")
    """
    m = _PATH.search(url)
    return f"{_NOTE}{m.group(1)}`: its output, charged once at the batch price" if m is not None else None


def results_state(response: Mapping[str, Any], notes: tuple[str, ...]) -> tuple[Literal["finished"], str] | None:
    """``("finished", batch_id)`` for a 200 answer with a body to a read of a batch's results
    (``notes`` hold :func:`results_read`'s: the results are final once the batch ended, and
    Anthropic answers them only then); None for any other (an error, a body too large for the
    gateway to keep, which it passes on unread: then nothing is charged, nor claimed)."""
    read = next((n for n in notes if n.startswith(_NOTE)), None)
    if read is None or not isinstance(response, Mapping) or response.get("status_code") != 200:
        return None
    body = response.get("body")
    if body is None:  # (a gateway keeps `application/jsonl` as it keeps a stream)
        body = response.get("sse")
    if not (isinstance(body, Mapping) or isinstance(body, (str, bytes, bytearray)) and body):
        return None
    return "finished", read[len(_NOTE): read.index("`", len(_NOTE))]


def results_usage(body: Any, batch_id: str) -> Usage:
    """What the first read of a batch's results charges: the output of its ``succeeded`` lines
    (their ``usage``: output, thinking, web searches), at the batch price, each model's at its
    price (the model with the most output first, the others :attr:`Usage.other_models`). The
    input was charged at the creation (the requests were in its body): said, not charged again.
    Lines that are no result (unparseable, not an object) are skipped and counted in a note."""
    by_model: dict[str, dict[str, int]] = {}
    lines, skipped = _lines(body)
    for line in lines:
        message = line.get("result", {}).get("message") if isinstance(line.get("result"), Mapping) else None
        if not isinstance(message, Mapping):
            skipped += "result" not in line
            continue
        fields = anthropic_fields(message.get("usage"))
        if not fields:
            skipped += 1
            continue
        model = message.get("model")
        counts = by_model.setdefault(model[:256] if isinstance(model, str) and model else "", {})
        for key, value in fields.items():
            counts[key] = counts.get(key, 0) + value
    extra = (f"{skipped:,} lines of it are no result: not counted",) if skipped else ()
    parts = sorted(((model, anthropic_usage_from_fields(f)) for model, f in by_model.items()),
                   key=lambda p: -(p[1].output_tokens if p[1] is not None else 0))
    outputs = [(model or None, _output(u)) for model, u in parts if u is not None]
    if not outputs:
        return Usage.of(0, 0, source="estimate", notes=(
            f"batch `{batch_id}` results: no request succeeded, nothing to charge", *extra))
    inputs = sum(u.input_tokens for _, u in parts if u is not None)
    (model, top), rest = outputs[0], outputs[1:]
    return Usage.of(0, top.output_tokens, reasoning_tokens=top.reasoning_tokens, model=model, units=top.units,
                    service_tier="batch", other_models=tuple((m or "", u) for m, u in rest), notes=(
                        f"batch `{batch_id}` results: their output, at the batch price (their input, {inputs:,} "
                        "tokens, was charged at the batch's creation, estimated)", *extra))


def _output(usage: Usage) -> Usage:
    """The output side of one model's summed results, at the batch price."""
    return Usage.of(0, usage.output_tokens, reasoning_tokens=usage.reasoning_tokens, units=usage.units,
                    service_tier="batch")


def _lines(body: Any) -> tuple[list[Mapping[str, Any]], int]:
    """The result objects of a results body (one parsed already: a file of one line is JSON; or
    each line of its text), and how many of its non-blank lines are no JSON object."""
    if isinstance(body, Mapping):
        return [body], 0
    if not isinstance(body, (str, bytes, bytearray)):
        return [], 0
    text = body if isinstance(body, str) else bytes(body).decode("utf-8", "replace")
    found: list[Mapping[str, Any]] = []
    bad = 0
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except (ValueError, RecursionError):
            line = None
        if isinstance(line, Mapping):
            found.append(line)
        else:
            bad += 1
    return found, bad
