"""The body fields of a request that classify reads besides its text: the tools it declares,
its output cap (each wire format's own field, checked), how many outputs it asks for, and the
fields whose type the API fixes (:mod:`.classify`'s ``problems``). Pure, as classify is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .bedrock_invoke import CAP_FIELDS

if TYPE_CHECKING:
    from .classify import Api, Operation

__all__ = ["CAPPED_OPERATIONS", "MAX_MODEL", "MAX_MODELS", "choices", "field_types", "max_output", "output_schema", "tool_list", "tools"]



def tool_list(api: Api, body: Mapping[str, Any]) -> list[Any] | None:
    """The request's tool definitions: ``tools``, or Bedrock Converse's (and Nova's)
    ``toolConfig.tools`` (``[{toolSpec: {name, ...}}, {cachePoint: ...}]``)."""
    tools = body.get("tools")
    if tools is None and api == "bedrock" and isinstance(config := body.get("toolConfig"), Mapping):
        tools = config.get("tools")
    return tools if isinstance(tools, list) else None


def output_schema(api: Api, body: Mapping[str, Any]) -> object | None:
    """The JSON schema a request gives its answer (structured outputs), or None: the model reads
    it as it reads the tool definitions (Gemini: "the size of the response schema counts towards
    the input token limit"), so it counts in the estimate as they do. Chat Completions' (and
    every compatible server's, Cohere's) ``response_format``, the Responses API's
    ``text.format``, Anthropic's ``output_format`` and ``output_config.format``, Gemini's
    ``generationConfig.responseSchema`` / ``responseJsonSchema`` (either spelling), Ollama's
    ``format`` object."""
    if api == "gemini":
        config = body.get("generationConfig", body.get("generation_config"))
        if not isinstance(config, Mapping):
            return None
        for key in ("responseJsonSchema", "response_json_schema", "responseSchema", "response_schema"):
            if (schema := config.get(key)) is not None:
                return schema
        return None
    if api == "anthropic":
        config = body.get("output_config")
        found = body.get("output_format", config.get("format") if isinstance(config, Mapping) else None)
    elif api == "ollama":
        found = body.get("format")
    else:
        found = body.get("response_format")
        if found is None and (text := body.get("text")) is not None and isinstance(text, Mapping):  # Responses'
            found = text.get("format")
    if found is None or not isinstance(found, Mapping):  # (None first: an ABC's check is ~3,000 instructions)
        return None
    return found if any(k in found for k in ("schema", "json_schema", "properties")) else None


def tools(api: Api, body: Mapping[str, Any]) -> tuple[str, ...]:
    tools = tool_list(api, body)
    if tools is None:
        return ()
    names: list[str] = []
    for t in tools:
        if not isinstance(t, Mapping):
            continue
        if api == "gemini" and not isinstance(t.get("type"), str):  # (the Interactions API's: {type, name})
            decls = t.get("functionDeclarations", t.get("function_declarations"))
            if isinstance(decls, list):
                names.extend(d["name"] for d in decls if isinstance(d, Mapping) and isinstance(d.get("name"), str))
            names.extend(k for k in t if k not in ("functionDeclarations", "function_declarations"))
            continue
        name = t.get("name")
        if not isinstance(name, str) and api == "bedrock":
            if not isinstance(t.get("toolSpec"), Mapping):
                continue  # a cachePoint: no tool
            name = t["toolSpec"].get("name")
        if not isinstance(name, str) and isinstance(t.get("function"), Mapping):
            name = t["function"].get("name")
        if not isinstance(name, str) and isinstance(kind := t.get("type"), str) and isinstance(t.get(kind), Mapping):
            name = t[kind].get("name")  # Chat Completions' custom tools: {type: custom, custom: {name}}
        if not isinstance(name, str):
            name = t.get("type")
        if isinstance(name, str):
            names.append(name)
    return tuple(names)


#: the operations whose request can cap its output (a ``max-tokens`` output cap applies to them)
CAPPED_OPERATIONS = frozenset({"chat", "completion", "responses", "messages"})
_TOKEN_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
_COUNT_FIELDS = ("n", "best_of")  # choices / candidates: at least 1
_GEMINI_TOKEN_FIELDS = ("maxOutputTokens", "max_output_tokens")
_GEMINI_COUNT_FIELDS = ("candidateCount", "candidate_count")
MAX_MODELS = 32  # body `models` fallbacks kept
MAX_MODEL = 256


def _count(obj: Mapping[str, Any], key: str, where: str, problems: list[tuple[str, str]], *,
           least: int = 0) -> int | None:
    """``obj[key]`` as a count (absent or null: None); anything but a whole number from
    ``least`` to 2^53-1 is a problem naming ``where``."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and least <= value < 2**53:
        return value
    shown = f"`{value!r}`" if isinstance(value, (int, float)) and not isinstance(value, bool) else _kind(value)
    problems.append((where, f"must be a whole number from {least} to 2^53-1, not {shown}"))
    return None


def max_output(api: Api, op: Operation, body: Mapping[str, Any], problems: list[tuple[str, str]]) -> int | None:
    """The requested output cap, checking every field of the API that bounds the output."""
    base = "request.body"
    if api == "gemini":
        key = "generationConfig" if "generationConfig" in body else "generation_config"
        cfg = body.get(key)
        if not isinstance(cfg, Mapping):
            return None
        found = [_count(cfg, k, f"{base}.{key}.{k}", problems) for k in _GEMINI_TOKEN_FIELDS if k in cfg]
        for k in _GEMINI_COUNT_FIELDS:
            _count(cfg, k, f"{base}.{key}.{k}", problems, least=1)
        return _largest(found)
    if api == "bedrock":  # Converse: inferenceConfig.maxTokens; InvokeModel: the family's own field
        caps: list[int | None] = []
        for path in (("inferenceConfig", "maxTokens"), *CAP_FIELDS):
            obj: object = body
            for key in path[:-1]:
                obj = obj.get(key) if isinstance(obj, Mapping) else None
            if isinstance(obj, Mapping) and path[-1] in obj:
                caps.append(_count(obj, path[-1], ".".join((base, *path)), problems))
        return _largest(caps)
    if api == "ollama":
        opts = body.get("options")
        if not isinstance(opts, Mapping) or opts.get("num_predict") is None:
            return None
        n = _count(opts, "num_predict", f"{base}.options.num_predict", problems, least=-2)
        return n if n is not None and n >= 0 else None  # -1: until the model stops, -2: fill the context
    found = {k: _count(body, k, f"{base}.{k}", problems) for k in _TOKEN_FIELDS if k in body}
    for k in _COUNT_FIELDS:
        _count(body, k, f"{base}.{k}", problems, least=1)
    if op == "responses":
        return found.get("max_output_tokens")
    return _largest(found.values())


def _largest(caps: Any) -> int | None:
    """The largest of a body's output caps (None: none given). Servers of one format read
    different fields of it (vLLM ``max_completion_tokens``, TGI ``max_tokens``): with two, the
    policy reads the most either can produce, never the one a client chose to show it."""
    return max((n for n in caps if n is not None), default=None)


def choices(api: Api, body: Mapping[str, Any]) -> int:
    """How many outputs the request asks for (already checked by :func:`max_output`)."""
    if api == "gemini":
        cfg = body.get("generationConfig", body.get("generation_config"))
        fields, obj = _GEMINI_COUNT_FIELDS, cfg if isinstance(cfg, Mapping) else {}
    elif api == "ollama":
        return 1
    else:
        fields, obj = _COUNT_FIELDS, body
    counts = [v for v in (obj.get(k) for k in fields)
              if isinstance(v, (int, float)) and not isinstance(v, bool) and 1 <= v < 2**53]
    n = int(max(counts, default=1))
    return n if api == "gemini" else n * _prompts(body.get("prompt"))


def _prompts(prompt: object) -> int:
    """How many prompts a legacy completion's ``prompt`` holds: a list of strings or of token-id
    lists is a batch, each prompt with its own choices; a string or one list of token ids is one."""
    if type(prompt) is not list or len(prompt) < 2 or all(type(p) is int for p in prompt):
        return 1
    return len(prompt)


def field_types(api: Api, body: Mapping[str, Any], problems: list[tuple[str, str]]) -> None:
    """Fields the policy reads whose type the API fixes: refused when wrong, never ignored."""
    model = body.get("model")
    if model is not None:
        if not isinstance(model, str):
            problems.append(("request.body.model", f"must be a string, not {_kind(model)}"))
        elif len(model) > MAX_MODEL:
            problems.append(("request.body.model", f"must be at most {MAX_MODEL} characters, not {len(model):,}"))
    models = body.get("models")  # the fallback models (ngrok's AI gateway, OpenRouter): a list of names
    if models is not None and not (isinstance(models, list) and all(isinstance(m, str) for m in models)):
        problems.append(("request.body.models", "must be a list of model names (strings), not "
                         + (_kind(models) if not isinstance(models, list) else "a list holding "
                            + _kind(next(m for m in models if not isinstance(m, str))))))
    stream = body.get("stream")
    if stream is not None and stream is not True and stream is not False:
        problems.append(("request.body.stream", f"must be true or false, not {_kind(stream)}"))
    opts = body.get("stream_options")  # whether a stream reports its usage: read, and asked for when not
    if opts is not None:
        if not isinstance(opts, Mapping):
            problems.append(("request.body.stream_options", f"must be an object, not {_kind(opts)}"))
        elif (usage := opts.get("include_usage")) is not None and usage is not True and usage is not False:
            problems.append(("request.body.stream_options.include_usage", f"must be true or false, not {_kind(usage)}"))


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object",
            type(None): "null"}.get(
        type(value), f"a {type(value).__name__}")
