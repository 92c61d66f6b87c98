"""What a server-side tool of a response ran on a model of its own, billed at that model's
prices (:attr:`~.usage.Usage.other_models`). Pure, as :mod:`.usage`.

- **OpenAI's Responses API, the image generation tool** (``tools: [{type:
  image_generation}]``): the Response object's ``tool_usage.image_gen`` holds the image
  model's counts (``input_tokens``, ``input_tokens_details: {text_tokens, image_tokens}``,
  ``output_tokens``, ``output_tokens_details: {text_tokens, image_tokens}``,
  ``total_tokens``), apart from ``usage``, which is the Responses model's own. The image model
  is the tool's ``model`` in the response's ``tools`` (which echo the request's, defaults
  filled in), ``gpt-image-1`` when it names none, as OpenAI documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .usage import Usage, _get, _list
from .usage_openai import openai_usage

__all__ = ["IMAGE_MODEL", "with_tool_models"]

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
    part = openai_usage(found)
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
