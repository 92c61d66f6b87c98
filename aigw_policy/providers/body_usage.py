"""A complete (non-streamed) response body -> usage, and its generated text for estimates: the
one dispatch over every wire format (:mod:`.usage`'s readers, :mod:`.vendor_usage`'s for
Cohere and Bedrock). Pure, as they are."""

from __future__ import annotations

from collections.abc import Mapping

from .usage import Usage, _dumps, _get, _list, _model, merge_counts, service_tier, with_tier, with_units
from .usage_openai import image_usage, images_answer, message_texts, openai_usage, tool_calls
from .usage_anthropic import anthropic_usage
from .usage_gemini import gemini_fields, gemini_part_texts, gemini_usage, gemini_usage_from_fields, predict_usage
from .bedrock_invoke import invoke_text, invoke_usage
from .billed import grounded_searches, grounding_queries
from .tool_models import with_breakdown, with_iteration_models, with_tool_models
from .vendor_usage import cohere_delta_text, cohere_usage, converse_text, interaction_usage, ocr_usage, ollama_usage

__all__ = ["output_text", "usage_from_body"]


def usage_from_body(provider: str, body: object) -> Usage | None:
    """Usage from a complete (non-streamed) JSON response body, or None."""
    if provider == "anthropic":
        usage = anthropic_usage(_get(body, "usage"))
    elif provider == "gemini":
        if isinstance(body, list):  # streamGenerateContent without alt=sse: a JSON array
            counts: dict[str, int] = {}
            model = None
            for item in body:
                merge_counts(counts, gemini_fields(_get(item, "usageMetadata")))
                model = _model(item) or model
            queries: dict[int, set[str]] = {}
            for item in body:
                grounding_queries(_get(item, "candidates"), queries)
            usage = gemini_usage_from_fields(counts)
            return with_units(usage, grounded_searches(queries, model)).with_model(model) if usage else None
        usage = gemini_usage(_get(body, "usageMetadata"))
        predictions = _get(body, "predictions")
        if usage is None and isinstance(predictions, list):
            usage = predict_usage(predictions)
        elif usage is None and isinstance(_get(body, "usage"), Mapping):  # the Interactions API's
            usage = interaction_usage(body, _model(body))
        elif usage is not None:  # the Google searches it was grounded with, billed apart
            grounded: dict[int, set[str]] = {}
            if grounding_queries(_get(body, "candidates"), grounded):
                usage = with_units(usage, grounded_searches(grounded, _model(body)))
    elif provider == "ollama" and isinstance(body, Mapping) and "usage" not in body:
        usage = ollama_usage(body)
    elif provider == "cohere":
        usage = cohere_usage(body)
    elif provider == "bedrock":  # Converse, and InvokeModel of every family but Claude
        usage = invoke_usage(body)
        if usage is not None:  # Converse's `serviceTier` (InvokeModel's is a header: response.bedrock_tier)
            usage = with_tier(usage, service_tier(_get(body, "serviceTier", "type")))
    else:
        usage = (image_usage if isinstance(body, Mapping) and images_answer(body) else openai_usage)(_get(body, "usage"))
        if usage is None and isinstance(_get(body, "usage_info"), Mapping):  # Mistral's OCR: by the page
            usage = ocr_usage(body)
        if usage is None and isinstance(_get(body, "response"), Mapping):
            body = _get(body, "response")
            usage = openai_usage(_get(body, "usage"))
        if usage is not None:  # the tier it was served at, the searches the Responses API billed
            usage = with_tier(usage, service_tier(_get(body, "service_tier")))
            usage = with_tool_models(with_units(usage, tool_calls(_get(body, "output"))), body)
            usage = with_breakdown(usage, _get(body, "usage_breakdown"))  # Groq's compound systems
    if usage is None:
        return None
    usage = usage.with_model(_model(body) if isinstance(body, Mapping) else None)
    return with_iteration_models(usage, _get(body, "usage")) if provider == "anthropic" else usage


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
    elif provider in ("cohere", "bedrock"):
        if isinstance(body, Mapping):
            parts.extend(cohere_delta_text(body) if provider == "cohere" else converse_text(body) + invoke_text(body))
    elif provider == "gemini":
        items = body if isinstance(body, list) else [body]
        for item in items:
            for cand in _list(_get(item, "candidates")):
                parts.extend(gemini_part_texts(_get(cand, "content", "parts")))
            for step in _list(_get(item, "steps")) + _list(_get(item, "outputs")):  # the Interactions API's
                for content in (step, *_list(_get(step, "content"))):
                    if isinstance(_get(content, "text"), str):
                        parts.append(content["text"])
    else:
        for choice in _list(_get(body, "choices")):
            message = _get(choice, "message")
            if isinstance(message, Mapping):
                message_texts(message, parts)
            if isinstance(_get(choice, "text"), str):  # completions
                parts.append(choice["text"])
        for item in _list(_get(body, "output")):  # responses API
            for content in _list(_get(item, "content")):
                if isinstance(_get(content, "text"), str):
                    parts.append(content["text"])
            if isinstance(_get(item, "arguments"), str):  # function_call items
                parts.append(item["arguments"])
        for path in (("message", "thinking"), ("message", "content"), ("thinking",), ("response",)):  # ollama native
            value = _get(body, *path)
            if isinstance(value, str):
                parts.append(value)
    return "".join(parts)
