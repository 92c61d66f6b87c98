"""What a request's history says for its token estimate (providers/classify.py): the text of
its messages (the prompt, ``ai.prompt``), the arguments of the tool calls it sends back, and
JSON values (the tool definitions, a call's arguments) as compact text.

The walks take JSON's own types by exact type before the ``Mapping`` ABC check, which costs
~0.2 us a value: an 83 KB Anthropic agent history (180 messages, 60 ``tool_use`` blocks) is
classified in about a third of the time, with the compact JSON of its calls' arguments and the
words counted without a string each (``python benchmarks/providers_bench.py``);
tests/providers/test_history_walk.py holds the walks to the general way, subclasses and
other mappings included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

__all__ = ["call_texts", "calls_of", "json_text", "prompt_and_count", "text_of"]


def text_of(content: object, out: list[str]) -> None:
    """Collect text from a content value of any provider (string, parts, blocks)."""
    kind = type(content)  # what JSON gives first, by exact type: the Mapping ABC check costs ~0.2 us a value
    if kind is str:
        out.append(content)  # type: ignore[arg-type]
    elif kind is list:
        for part in content:  # type: ignore[attr-defined]
            text_of(part, out)
    elif kind is dict or (kind not in _LEAVES and isinstance(content, Mapping)):
        _block_text(content, out)  # type: ignore[arg-type]
    elif kind not in _LEAVES and isinstance(content, str):  # a str subclass
        out.append(content)
    elif kind not in _LEAVES and isinstance(content, list):
        for part in content:
            text_of(part, out)


def _block_text(block: Mapping[str, Any], out: list[str]) -> None:
    for key in ("text", "input_text", "thinking", "refusal"):  # (refusal: an assistant's, sent back)
        value = block.get(key)
        if isinstance(value, str):
            out.append(value)
    kind = block.get("type")
    if "content" in block and kind in _CONTENT_KINDS:
        text_of(block["content"], out)
    if "parts" in block:
        text_of(block["parts"], out)
    if kind is None:
        result = block.get("toolResult")  # Bedrock Converse (and Nova): a tool's result sent back
        if result is not None and type(result) is dict:
            text_of(result.get("content"), out)
        for key in ("document", "guardContent"):  # Converse's text document, its guarded text
            inner = block.get(key)
            if inner is not None and isinstance(inner, Mapping):
                _source_text(inner.get("source"), out) if key == "document" else text_of(inner.get("text"), out)
    elif kind == "document":  # Anthropic's (text or content source), Cohere's tool result
        _source_text(block.get("source"), out)
        inner = block.get("document")
        if isinstance(inner, Mapping):
            data_text(inner.get("data"), out)
    elif type(kind) is str and kind.endswith("_tool_result") and kind != "tool_result":
        result_text(block.get("content"), out)  # Anthropic's server tools' and MCP's results, sent back


def result_text(value: object, out: list[str], depth: int = 0) -> None:
    """The text of what a tool gave back, in any of the shapes the server-side tools write:
    a string, text parts, a command's ``stdout`` / ``stderr``, a code interpreter's ``logs``, a
    viewed file's ``content``, a fetched page's document (Anthropic's ``*_tool_result`` blocks,
    the Responses API's ``*_call_output`` and ``mcp_call`` outputs). Encrypted contents, ids,
    URLs and media are no text the model reads as such (media: providers/media.py)."""
    kind = type(value)
    if kind is str:
        out.append(value)  # type: ignore[arg-type]
    elif depth > 8:
        return
    elif kind is list or (kind not in _LEAVES and isinstance(value, list)):
        for item in value:  # type: ignore[attr-defined]
            result_text(item, out, depth + 1)
    elif kind is dict or (kind not in _LEAVES and isinstance(value, Mapping)):
        _block_text(value, out)  # type: ignore[arg-type]  # what a block's text is anywhere (a document's too)
        for key in _RESULT_KEYS:
            inner = value.get(key)  # type: ignore[attr-defined]
            if inner is not None:
                result_text(inner, out, depth + 1)
        if value.get("type") not in _CONTENT_KINDS:  # type: ignore[attr-defined]  # (those: read above)
            inner = value.get("content")  # type: ignore[attr-defined]  # a viewed file's, a fetched page's
            if inner is not None:
                result_text(inner, out, depth + 1)


_RESULT_KEYS = ("stdout", "stderr", "logs", "output")


_CONTENT_KINDS = ("tool_result", "message", "search_result", None)
"""The blocks whose ``content`` is text the model reads (a ``None`` type: a message). A tuple:
``in`` compares, a ``type`` of any JSON value (a list) never raises."""


def _source_text(source: object, out: list[str]) -> None:
    """The text of a document's source: Anthropic's ``{type: text, data}`` and ``{type: content,
    content}``, Converse's ``{text}`` and ``{content: [{text}]}`` (a base64 or file source: none)."""
    if not isinstance(source, Mapping):
        return
    kind = source.get("type")
    if kind == "text" and isinstance(source.get("data"), str):
        out.append(source["data"])
    elif kind == "content" or (kind is None and "content" in source):
        text_of(source.get("content"), out)
    elif kind is None and isinstance(source.get("text"), str):
        out.append(source["text"])


def data_text(data: object, out: list[str]) -> None:
    """A Cohere document's ``data`` (its fields, all text the model reads), or the string it is."""
    if isinstance(data, str):
        out.append(data)
    elif isinstance(data, Mapping):
        out.extend(v for v in data.values() if isinstance(v, str))


_LEAVES = frozenset({str, int, float, bool, type(None)})
"""JSON's leaves: no text or call below them (their subclasses go the general way)."""


def calls_of(item: object, out: list[str]) -> None:
    """The arguments of the tool calls in a message or content value of any provider (the
    model's earlier calls and Gemini's function results, sent back as the history): they are
    input tokens like the text, but not the prompt's text (``ai.prompt``). A value that is
    not a string is counted as its JSON."""
    kind = type(item)  # exact types first, as in text_of
    if kind is list or (kind is not dict and kind not in _LEAVES and isinstance(item, list)):
        for part in item:  # type: ignore[attr-defined]
            if type(part) is not str:  # a string holds no call
                calls_of(part, out)
        return
    if kind is not dict and (kind in _LEAVES or not isinstance(item, Mapping)):
        return
    calls = item.get("tool_calls")  # type: ignore[attr-defined]  # OpenAI chat: an assistant message's calls
    if calls is not None and isinstance(calls, list):
        for call in calls:
            fn = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(fn, Mapping):
                _argument(fn.get("arguments"), out)
    legacy = item.get("function_call")  # type: ignore[attr-defined]  # OpenAI chat's older single call
    if legacy is not None and isinstance(legacy, Mapping):
        _argument(legacy.get("arguments"), out)
    kind_field = item.get("type")  # type: ignore[attr-defined]
    field = _CALL_FIELDS.get(kind_field) if type(kind_field) is str else None
    if field is not None:  # a Responses API input item, an Anthropic content block
        _argument(item.get(field), out)  # type: ignore[attr-defined]
    elif kind_field is None:
        for key in ("functionCall", "function_call", "functionResponse", "function_response"):  # Gemini parts
            part = item.get(key)  # type: ignore[attr-defined]
            if part is not None and isinstance(part, Mapping):
                _argument(part.get("args", part.get("response")), out)
        use = item.get("toolUse")  # type: ignore[attr-defined]  # Bedrock Converse's call, sent back
        if use is not None and isinstance(use, Mapping):
            _argument(use.get("input"), out)
        result = item.get("toolResult")  # type: ignore[attr-defined]  # its result's JSON blocks (text: text_of)
        if result is not None and isinstance(result, Mapping) and isinstance(result.get("content"), list):
            for block in result["content"]:
                if isinstance(block, Mapping) and block.get("json") is not None:
                    _argument(block["json"], out)
    for key in ("content", "parts"):
        inner = item.get(key)  # type: ignore[attr-defined]
        if inner is not None and type(inner) is not str and isinstance(inner, (list, Mapping)):
            calls_of(inner, out)


_CALL_FIELDS = {
    "function_call": "arguments", "custom_tool_call": "input", "mcp_call": "arguments",
    "mcp_approval_request": "arguments", "code_interpreter_call": "code", "shell_call": "action",
    "local_shell_call": "action", "apply_patch_call": "operation", "computer_call": "action",
    "web_search_call": "action", "tool_use": "input", "server_tool_use": "input", "mcp_tool_use": "input",
}
"""A call's type -> the field holding what the model wrote for it: the Responses API's input
items (its function, custom, MCP, code interpreter, shell, patch, computer and search calls)
and Anthropic's content blocks (its client, server and MCP tools' calls)."""


def _argument(value: object, out: list[str]) -> None:
    """A call's arguments: a string as it is, any other value as its compact JSON, written as
    the tool definitions are (:func:`json_text`: ~0.3 us a small object, ``json.dumps`` ~3)."""
    if isinstance(value, str):
        out.append(value)
    elif value is not None:
        text = json_text(value)
        if text is not None:
            out.append(text)


def call_texts(api: str, body: Mapping[str, Any]) -> str:
    """The tool-call arguments of a request's history, joined (see :func:`calls_of`)."""
    out: list[str] = []
    for key in ("contents",) if api == "gemini" else ("messages", "input"):
        calls_of(body.get(key), out)
    return "\n".join(out)


def prompt_and_count(api: str, op: str, body: Mapping[str, Any]) -> tuple[str, int]:
    texts: list[str] = []
    count = 0
    if api == "gemini":
        text_of(body.get("systemInstruction", body.get("system_instruction")), texts)
        contents = body.get("contents", body.get("requests", body.get("instances", body.get("input"))))
        # (instances: Vertex :predict; input: the Interactions API's, a string or a list of steps or parts)
        if isinstance(contents, (Mapping, str)):  # embedContent: a single content
            contents = [contents]
        if isinstance(contents, list):
            count = len(contents)
            for c in contents:
                text_of(c.get("content", c) if isinstance(c, Mapping) else c, texts)
        elif isinstance(body.get("content"), Mapping):
            count = 1
            text_of(body["content"], texts)
        return "\n".join(texts), count
    if api in ("anthropic", "bedrock"):  # Bedrock Converse: `system: [{text}]`
        text_of(body.get("system"), texts)
    if op == "responses":
        text_of(body.get("instructions"), texts)
        template = body.get("prompt")  # a stored prompt: its variables are text the model reads
        if isinstance(template, Mapping) and isinstance(template.get("variables"), Mapping):
            for value in template["variables"].values():
                text_of(value, texts)
    if api in _SYSTEM_KEYS:  # a system prompt, not a message: Cohere v1's preamble
        text_of(body.get(_SYSTEM_KEYS[api]), texts)
    for key in _MESSAGE_KEYS.get(api, _OPENAI_KEYS):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            if value and all(isinstance(v, int) for v in value):  # one input of token ids, not one per id
                count += 1
                texts.append(" ".join("x" for _ in value))
                continue
            count += len(value)
            for item in value:
                if isinstance(item, Mapping):
                    text_of(item.get("content"), texts)
                    if api in _MESSAGE_KEYS and "content" not in item:  # Cohere v1's chat_history, documents
                        text_of(item.get("message", item.get("text")), texts)
                        data_text(item.get("data"), texts)  # Cohere v2's documents: {id, data: {fields}}
                    output = item.get("output")  # function_call_output: a string, or parts
                    if output is not None and type(output) is not dict:
                        result_text(output, texts)  # (a shell call's: {stdout, stderr} each)
                    if item.get("type") == "code_interpreter_call":
                        result_text(item.get("outputs"), texts)  # its logs (an image: none)
                elif type(item) is list and item and all(isinstance(v, int) for v in item):
                    texts.append(" ".join("x" for _ in item))  # a batch of token-id arrays
                else:
                    text_of(item, texts)
        else:
            count += 1
            text_of(value, texts)
    if api == "ollama" and isinstance(body.get("system"), str):
        texts.insert(0, body["system"])
    return "\n".join(texts), count


_OPENAI_KEYS = ("messages", "input", "prompt")
_MESSAGE_KEYS = {
    # Cohere: v2 `messages` and embed `texts` / `inputs`; v1 `message` and `chat_history`
    # ({role, message}); rerank's `query` and `documents` (strings or {text})
    "cohere": ("messages", "input", "prompt", "texts", "inputs", "message", "chat_history", "query", "documents"),
    # Bedrock: Converse's and Nova's `messages`; InvokeModel's `prompt` (Llama, Mistral, DeepSeek),
    # `inputText` (Titan), `message` / `chat_history` (Cohere Command), `texts` (Cohere Embed)
    "bedrock": ("messages", "input", "prompt", "inputText", "message", "chat_history", "texts"),
}
"""The body keys whose values are the messages (each one counted), by wire format."""
_SYSTEM_KEYS = {"cohere": "preamble", "bedrock": "preamble"}  # Cohere Command on Bedrock too


def json_text(value: object) -> str | None:
    """A value as compact JSON, what its share of the estimate is counted on (None when it is
    not JSON): the tool definitions, a call's arguments. pydantic-core's serializer writes it:
    an agent's 40 tools (~18 KB) take ~50 us there and ~160 us in ``json.dumps``, on every
    request."""
    try:
        return to_json(value, serialize_unknown=False).decode()
    except (PydanticSerializationError, ValueError, RecursionError):
        return None
