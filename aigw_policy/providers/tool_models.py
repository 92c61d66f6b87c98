"""What a server-side tool of a response ran on a model of its own, billed at that model's
prices (:attr:`~.usage.Usage.other_models`). Pure, as :mod:`.usage`.

- **OpenAI's Responses API, the image generation tool** (``tools: [{type:
  image_generation}]``): the Response object's ``tool_usage.image_gen`` holds the image
  model's counts (``input_tokens``, ``input_tokens_details: {text_tokens, image_tokens}``,
  ``output_tokens``, ``output_tokens_details: {text_tokens, image_tokens}``,
  ``total_tokens``), apart from ``usage``, which is the Responses model's own. The image model
  is the tool's ``model`` in the response's ``tools`` (which echo the request's, defaults
  filled in), ``gpt-image-1`` when it names none, as OpenAI documents.
- **Groq's compound systems** (``groq/compound``, ``groq/compound-mini``): the answer's
  ``usage_breakdown: {models: [{model, usage}]}`` (a stream's last chunk: under ``x_groq``)
  names each model that ran and its counts; ``usage`` is their sum. The system has no price of
  its own (Groq bills the models that ran, at their prices): the usage is priced by its parts
  (:attr:`~.usage.Usage.by_parts`), its counts kept as ``ai.usage``'s.
- **Anthropic's ``usage.iterations``** entries that ran on a model of their own, each with its
  ``model``: the advisor tool's ``advisor_message`` (beta ``advisor-tool-2026-03-01``: "Top-level
  usage fields reflect executor tokens only ... billed at the advisor model's rates"), and, in a
  server-side fallback chain (beta ``server-side-fallback-…``: an entry ``fallback_message``
  names the model that served), the declined hops, its ``message`` entries, billed at the
  declined model's rates; the top-level counts are the serving hop's, priced at the
  ``fallback_message``'s model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .usage import Usage, _get, _list
from .usage_anthropic import _anthropic_counts, anthropic_usage_from_fields
from .usage_openai import image_usage, openai_usage

__all__ = ["IMAGE_MODEL", "with_breakdown", "with_iteration_models", "with_tool_models"]

IMAGE_MODEL = "gpt-image-1"
"""The image generation tool's model when the response's tools name none (OpenAI's default)."""


def with_tool_models(usage: Usage, response: object) -> Usage:
    """``usage`` with the usage of the image generation tool a Responses API ``response`` (the
    Response object) reports under ``tool_usage.image_gen``, by its image model; as it is when
    it reports none or all zeros; with a note when the counts there are not counts (not
    priced, never read as 0)."""
    found = _get(response, "tool_usage", "image_gen")
    if found is None:
        return usage
    part = image_usage(found)
    if part is None:
        return replace(usage, notes=(*usage.notes, "tool_usage.image_gen has no usable counts: not priced"))
    if not part.total_tokens:
        return usage
    return replace(usage, other_models=(*usage.other_models, (_image_model(response), part)))


def _image_model(response: object) -> str:
    for tool in _list(_get(response, "tools")):
        if isinstance(tool, Mapping) and tool.get("type") == "image_generation":
            model = tool.get("model")
            return model[:256] if isinstance(model, str) and model else IMAGE_MODEL
    return IMAGE_MODEL


def with_breakdown(usage: Usage, breakdown: object) -> Usage:
    """``usage`` priced by the models a Groq compound answer's ``usage_breakdown`` names, each
    at its own prices (:attr:`~.usage.Usage.by_parts`); as it is when there is none (``null``
    on every plain Groq answer). A breakdown whose entries are not a model and counts is not
    trusted at all (noted: the model's own price stands), never read in part: a part left out
    would go unpriced. The counts are made up to the parts' sum when ``usage`` says less."""
    if breakdown is None:
        return usage
    parts: list[tuple[str, Usage]] = []
    for entry in _list(_get(breakdown, "models")):
        model, part = _get(entry, "model"), openai_usage(_get(entry, "usage"))
        if not isinstance(model, str) or not model or part is None:
            parts = []
            break
        parts.append((model[:256], part))
    if not parts:
        return replace(usage, notes=(*usage.notes, "usage_breakdown has no usable models: not priced by its parts"))
    inp, out = sum(p.input_tokens for _, p in parts), sum(p.output_tokens for _, p in parts)
    if inp > usage.input_tokens or out > usage.output_tokens:
        usage = replace(usage, input_tokens=max(inp, usage.input_tokens), output_tokens=max(out, usage.output_tokens),
                        total_tokens=max(inp, usage.input_tokens) + max(out, usage.output_tokens),
                        notes=(*usage.notes, "usage below its usage_breakdown's sum: the sum counted"))
    return replace(usage, other_models=tuple(parts), by_parts=True)


def with_iteration_models(usage: Usage, found: object) -> Usage:
    """``usage`` (of an Anthropic answer whose ``usage`` object is ``found``) with the
    ``iterations`` that ran on another model (the module's docstring) as
    :attr:`~.usage.Usage.other_models`, and priced at the model a ``fallback_message`` names;
    as it is without such entries. An entry with no model or no usable counts is noted, not
    priced (never read as 0)."""
    iterations = _get(found, "iterations")
    if type(iterations) is not list or not iterations:
        return usage
    served = next((e.get("model") for e in iterations
                   if isinstance(e, Mapping) and e.get("type") == "fallback_message"), None)
    apart = ("advisor_message", "message") if served is not None else ("advisor_message",)
    parts: list[tuple[str, Usage]] = []
    notes = list(usage.notes)
    for entry in iterations:
        if not isinstance(entry, Mapping) or entry.get("type") not in apart:
            continue
        model, part = entry.get("model"), anthropic_usage_from_fields(_anthropic_counts(entry))
        if not isinstance(model, str) or not model or part is None:
            notes.append(f"usage.iterations: a {entry.get('type')} entry without a model or counts: not priced")
        elif part.total_tokens:
            parts.append((model[:256], part))
    if not parts and len(notes) == len(usage.notes) and not isinstance(served, str):
        return usage
    usage = replace(usage, other_models=(*usage.other_models, *parts), notes=tuple(notes))
    return usage.with_model(served[:256]) if isinstance(served, str) and served else usage
