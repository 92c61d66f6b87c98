"""Amazon Bedrock's InvokeModel (``/model/{id}/invoke``, ``/invoke-with-response-stream``) of
models other than Claude: each family's own body (Bedrock passes it to the model as it is).
Pure, as :mod:`.usage`.

Claude's InvokeModel speaks Anthropic's Messages (api ``anthropic``); every other family is api
``bedrock`` (the same as Converse: :mod:`.vendor_usage`), read here by its shape:

======================  ===================================  =====================================
family (model id)       output cap (request)                 usage (response)
======================  ===================================  =====================================
``meta.llama…``         ``max_gen_len``                      ``prompt_token_count``,
                                                             ``generation_token_count``
``amazon.titan-text…``  ``textGenerationConfig.maxTokenCount`` ``inputTextTokenCount``,
                                                             ``results[].tokenCount``
``amazon.titan-embed…`` –                                    ``inputTextTokenCount``
``amazon.nova…``        ``inferenceConfig.max_new_tokens``   ``usage.inputTokens`` …,
                                                             ``cacheReadInputTokenCount``
``openai.gpt-oss…``,    ``max_completion_tokens`` /          ``usage.prompt_tokens`` … (OpenAI's)
``ai21.jamba…``         ``max_tokens``
``mistral…``,           ``max_tokens``                       none in the body
``cohere.command…``,
``deepseek…`` …
======================  ===================================  =====================================

Every InvokeModel answer also carries its counts in the headers
``x-amzn-bedrock-input-token-count`` / ``x-amzn-bedrock-output-token-count`` (a body without
usage is read from them), and the last event of its stream in
``amazon-bedrock-invocationMetrics`` (``inputTokenCount``, ``outputTokenCount`` and, for models
with prompt caching, ``cacheReadInputTokenCount`` / ``cacheWriteInputTokenCount``): the
stream's usage, once, whatever its chunks said before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import unquote

from .usage import Usage, _get, _list, counts_of, tok
from .usage_openai import openai_usage
from .vendor_usage import bedrock_usage

__all__ = ["bedrock_model", "bedrock_route", "header_usage", "invoke_operation", "invoke_text", "invoke_usage",
           "metrics_usage", "set_invoke_max_tokens"]

METRICS = "amazon-bedrock-invocationMetrics"
INPUT_HEADER = "x-amzn-bedrock-input-token-count"
OUTPUT_HEADER = "x-amzn-bedrock-output-token-count"

_INVOKE_PATH = re.compile(r"/model/(?P<model>[^/]+)/invoke(?:-with-response-stream)?/?$")

_CAPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (".meta.llama", ("max_gen_len",)),
    (".amazon.titan-text", ("textGenerationConfig", "maxTokenCount")),
    (".amazon.titan-tg1", ("textGenerationConfig", "maxTokenCount")),
    (".amazon.nova", ("inferenceConfig", "max_new_tokens")),
    (".openai.", ("max_completion_tokens",)),
)
"""The output cap of the families that do not name it ``max_tokens`` (Mistral's, Cohere's,
AI21's, DeepSeek's, Anthropic's... do), by a part of the model id (an inference profile's
region prefix, ``us.meta.llama…``, or an ARN's last part, included)."""

CAP_FIELDS: tuple[tuple[str, ...], ...] = (
    ("max_gen_len",), ("textGenerationConfig", "maxTokenCount"), ("inferenceConfig", "max_new_tokens"),
    ("max_completion_tokens",), ("max_tokens",),
)
"""Every InvokeModel family's output cap, by its path in the body (classify reads the largest
present as ``ai.max_output_tokens``)."""

_EMBED = (".embed", "-embed")
_NO_TEXT = (".rerank", ".stability.", ".amazon.titan-image", ".amazon.nova-canvas", ".amazon.nova-reel", ".luma.")
"""Rerank models (Cohere's, Amazon's: ``query``, ``documents``) and image or video models
(Stability's, Titan Image Generator, Nova Canvas and Reel, Luma's): no text answered, no output
cap in their bodies (Bedrock refuses a key their schema lacks: ``extraneous key [max_tokens] is
not permitted``)."""


def invoke_operation(model: str) -> Literal["chat", "embeddings", "other"]:
    """``ai.operation`` of an InvokeModel of ``model`` (not Claude's): ``embeddings`` for an
    embedding model, ``other`` for a rerank, image or video model (:data:`_NO_TEXT`), else ``chat``."""
    dotted = f".{model.lower()}"
    if any(part in dotted for part in _EMBED):
        return "embeddings"
    return "other" if any(part in dotted for part in _NO_TEXT) else "chat"


def _family_cap(model: str) -> tuple[str, ...] | None:
    """The path of the output cap in the body of ``model``'s family; None: it has none."""
    dotted = f".{model.lower()}"
    if invoke_operation(model) != "chat" or dotted.startswith(".amazon.titan-e"):
        return None
    return next((path for part, path in _CAPS if part in dotted), ("max_tokens",))


def set_invoke_max_tokens(body: dict[str, Any], path: str, value: int) -> None:
    """The ``max-tokens`` clamp in an InvokeModel body: every cap field the body already has
    (one family's), else its family's own field; nothing for an embedding model."""
    m = _INVOKE_PATH.search(path)
    from urllib.parse import unquote  # noqa: PLC0415 - the clamp only

    model = unquote(m.group("model")).rsplit("/", 1)[-1] if m else ""
    cap = _family_cap(model)
    if cap is None:
        return
    present = [fields for fields in CAP_FIELDS if _has(body, fields)]
    for fields in present or [cap]:
        _put(body, fields, value)


def _has(body: Mapping[str, Any], fields: tuple[str, ...]) -> bool:
    obj: object = body
    for key in fields:
        if not isinstance(obj, Mapping) or key not in obj:
            return False
        obj = obj[key]
    return True


def _put(body: dict[str, Any], fields: tuple[str, ...], value: int) -> None:
    if len(fields) == 1:
        body[fields[0]] = value
        return
    outer, inner = fields
    config = dict(body[outer]) if isinstance(body.get(outer), dict) else {}
    config[inner] = value
    body[outer] = config


# ---------------------------------------------------------------------------------------------
# usage

_NOVA = ("inputTokens", "outputTokens", "totalTokens", "cacheReadInputTokenCount", "cacheWriteInputTokenCount")


def invoke_usage(body: object) -> Usage | None:
    """The usage an InvokeModel answer (or one event of its stream) names in its own body, or
    None: the invocation metrics, Nova's ``usage``, an OpenAI-shaped ``usage``, Llama's and
    Titan's counts."""
    if not isinstance(body, Mapping):
        return None
    if METRICS in body:
        return metrics_usage(body[METRICS])
    u = body.get("usage")
    if isinstance(u, Mapping):
        if "inputTokens" in u:  # Converse's, and Nova's: the same names, but its cache counts end in `Count`
            if "cacheReadInputTokenCount" not in u and "cacheWriteInputTokenCount" not in u:
                return bedrock_usage(u)
            counts = counts_of(u, _NOVA)
            if "inputTokens" not in counts:
                return None
            return bedrock_usage({"inputTokens": counts["inputTokens"], "outputTokens": counts.get("outputTokens", 0),
                                  "totalTokens": counts.get("totalTokens"),
                                  "cacheReadInputTokens": counts.get("cacheReadInputTokenCount"),
                                  "cacheWriteInputTokens": counts.get("cacheWriteInputTokenCount")})
        return openai_usage(u)  # gpt-oss, Jamba
    if "prompt_token_count" in body or "generation_token_count" in body:  # Llama
        inp, out = body.get("prompt_token_count"), body.get("generation_token_count")
        n_in, n_out = tok(inp), (0 if out is None else tok(out))
        return Usage.of(n_in, n_out) if n_in is not None and n_out is not None else None
    if "inputTextTokenCount" in body:  # Titan text (its results' tokenCount) and embeddings
        n_in = tok(body.get("inputTextTokenCount"))
        outs = [tok(_get(r, "tokenCount")) for r in _list(body.get("results"))]
        if "totalOutputTextTokenCount" in body:  # a Titan stream's chunk
            outs = [tok(body.get("totalOutputTextTokenCount"))]
        if n_in is None or None in outs:
            return None
        return Usage.of(n_in, sum(outs))  # type: ignore[arg-type]
    return None


def metrics_usage(metrics: object) -> Usage | None:
    """The ``amazon-bedrock-invocationMetrics`` of a stream's last event: ``inputTokenCount``
    counts the uncached input only when the cache counts are given (as Converse's
    ``inputTokens``): they are added to it."""
    counts = counts_of(metrics, ("inputTokenCount", "outputTokenCount", "cacheReadInputTokenCount",
                                 "cacheWriteInputTokenCount"))
    if "inputTokenCount" not in counts:
        return None
    return bedrock_usage({"inputTokens": counts["inputTokenCount"], "outputTokens": counts.get("outputTokenCount", 0),
                          "cacheReadInputTokens": counts.get("cacheReadInputTokenCount"),
                          "cacheWriteInputTokens": counts.get("cacheWriteInputTokenCount")})


def header_usage(get: Any) -> Usage | None:
    """The usage InvokeModel's response headers name (``get(name) -> str``), or None."""
    inp, out = get(INPUT_HEADER), get(OUTPUT_HEADER)
    if not inp:
        return None
    n_in, n_out = tok(inp.strip()), tok(out.strip()) if out else 0
    return Usage.of(n_in, n_out) if n_in is not None and n_out is not None else None


def invoke_text(obj: Mapping[str, Any]) -> list[str]:
    """The generated text of an InvokeModel answer or stream event of any family (for
    estimates): Llama's ``generation``, Titan's ``outputText`` (and ``results``), Mistral's
    ``outputs``, OpenAI-shaped ``choices``, Nova's ``contentBlockDelta``, Cohere's ``text``."""
    out: list[str] = []
    for key in ("generation", "outputText", "completion"):
        if isinstance(obj.get(key), str):
            out.append(obj[key])
    if isinstance(obj.get("text"), str) and ("generation_id" in obj or "is_finished" in obj):
        out.append(obj["text"])  # Cohere Command's body or stream event
    for item in _list(obj.get("results")) + _list(obj.get("outputs")):
        for key in ("outputText", "text"):
            if isinstance(_get(item, key), str):
                out.append(item[key])
    for choice in _list(obj.get("choices")):
        for path in (("message", "content"), ("delta", "content"), ("text",), ("message", "reasoning_content"),
                     ("delta", "reasoning_content")):
            value = _get(choice, *path)
            if isinstance(value, str):
                out.append(value)
    delta = _get(obj, "contentBlockDelta", "delta", "text")
    if isinstance(delta, str):
        out.append(delta)
    return out


def bedrock_model(model: str) -> str:
    """The model id of a Bedrock runtime path's segment: %-decoded, an ARN's (an inference
    profile's, a provisioned model's) last part."""
    model = unquote(model)
    return model.rsplit("/", 1)[-1] if model.startswith("arn:") else model


def bedrock_route(model: str, action: str) -> tuple[Literal["bedrock"], Literal["bedrock", "anthropic"], Literal[
        "chat", "messages", "embeddings", "other"], dict[str, Any]]:
    """Bedrock's runtime routes: Converse (its own wire format, every model) or InvokeModel
    (the model's own body: Anthropic's Messages for Claude; every other family is api
    ``bedrock`` too, its body read by its shape, above): ``classify``'s provider, api,
    operation and extras of the path."""
    model = bedrock_model(model)
    stream = action in ("converse-stream", "invoke-with-response-stream")
    if action.startswith("converse"):
        return "bedrock", "bedrock", "chat", {"model": model, "stream": stream}
    if ".anthropic." in f".{model}":
        return "bedrock", "anthropic", "messages", {"model": model, "stream": stream}
    op = invoke_operation(model)
    return "bedrock", "bedrock", op, {"model": model, "stream": stream}
