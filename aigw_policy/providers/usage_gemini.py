"""Gemini's ``usageMetadata`` (generateContent JSON, its stream's chunks, Vertex AI's) and Vertex
AI's ``:predict`` embeddings -> :class:`~.usage.Usage`; the generated text of Gemini ``parts``
for estimates. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .usage import NO_INPUT, Usage, _dumps, _get, _list, _units, _with_gap, _within, counts_of, tok

__all__ = ["TRAFFIC_TIERS", "gemini_fields", "gemini_part_texts", "gemini_usage", "gemini_usage_from_fields",
           "predict_usage", "traffic_tier"]

TRAFFIC_TIERS = {"ON_DEMAND_PRIORITY": "priority", "ON_DEMAND_FLEX": "flex",
                 "PROVISIONED_THROUGHPUT": "provisioned_throughput"}
"""The service tier of Vertex AI's ``usageMetadata.trafficType`` (the quota a request was served
from), by its value: ``ON_DEMAND`` (pay as you go) and ``TRAFFIC_TYPE_UNSPECIFIED`` are the
standard tier. Provisioned Throughput is paid for by its commitment: genai-prices has no price
for it (priced standard, said; an override ``model@provisioned_throughput`` prices it, at 0 for
traffic the commitment covers)."""


def traffic_tier(m: object) -> str | None:
    """The tier a ``usageMetadata`` object's ``trafficType`` names (:data:`TRAFFIC_TIERS`), or None."""
    traffic = m.get("trafficType") if isinstance(m, Mapping) else None
    return TRAFFIC_TIERS.get(traffic) if isinstance(traffic, str) else None


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
