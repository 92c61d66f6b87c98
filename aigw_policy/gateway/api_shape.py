"""Whether a success is the answer of the API its request called, by the fields every answer
of that API has (SPEC §12, the ``malformed`` failure class).

A base URL pointed at the wrong vendor, a router that answers in its own format, a proxy that
wraps the answer: a 200 whose JSON parses but is another API's answer. Served, no SDK reads
it: the OpenAI SDK returned a completion whose ``choices`` is None (the caller's
``r.choices[0]`` raised ``TypeError``), and read an Anthropic message sent as events as an
empty stream, with no error; Anthropic's and genai's SDKs likewise returned empty objects.
Such an answer is malformed (it fails over, or is the gateway's 502), as an HTML page is.

A stream's first event (the first one that says something: :mod:`.first_event`) is judged the
same way, and so is an event whose data is not JSON where the API sends JSON
(``data: {not json``): the SDK's JSON parser raised ``json.JSONDecodeError``, outside its
documented errors.

Only the endpoints below are judged, by the attempt URL's path, and only by fields each of
their answers has (an error object is left to :func:`~.first_event.stream_error` and
:func:`whole_error`): any other path, and any answer that is no JSON object, pass as they
came.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..providers.framing import JSONArrayParser, SSEParser
from .first_event import NOT_JSON, error_status, first_said, sse_events

__all__ = ["empty_stream", "foreign", "foreign_stream", "known", "relabelled", "whole_error"]

_ANTHROPIC_EVENTS = frozenset({"message_start", "message_delta", "message_stop", "content_block_start",
                               "content_block_delta", "content_block_stop", "ping", "error"})


def _has(*fields: str) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: any(k in obj for k in fields)


def _typed(ok: Callable[[str], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda obj: isinstance(t := obj.get("type"), str) and ok(t)


# the path's end -> (fields of which every answer has one, what every stream event is, the API)
_SHAPES: tuple[tuple[re.Pattern[str], tuple[str, ...], Callable[[dict[str, Any]], bool] | None, str], ...] = (
    (re.compile(r"/chat/completions$"), ("choices",), _has("choices"), "an OpenAI chat completion"),
    (re.compile(r"/v\d+/completions$"), ("choices",), _has("choices"), "an OpenAI completion"),
    (re.compile(r"/embeddings$"), ("data",), None, "an OpenAI embeddings list"),
    (re.compile(r"/responses$"), ("output",), _typed(lambda t: t.startswith("response.") or t == "error"),
     "an OpenAI response"),
    (re.compile(r"/messages$"), ("content",), _typed(_ANTHROPIC_EVENTS.__contains__), "an Anthropic message"),
    (re.compile(r"/messages/count_tokens$"), ("input_tokens",), None, "an Anthropic token count"),
    (re.compile(r":(?:generateContent|streamGenerateContent)$"), ("candidates", "promptFeedback"),
     _has("candidates", "promptFeedback", "usageMetadata"), "a Gemini GenerateContentResponse"),
    (re.compile(r":countTokens$"), ("totalTokens",), None, "a Gemini token count"),
    (re.compile(r":embedContent$"), ("embedding",), None, "a Gemini embedding"),
    (re.compile(r":batchEmbedContents$"), ("embeddings",), None, "a list of Gemini embeddings"),
    # Cohere v2's events: message-start, content-delta, tool-call-start, citation-end, ..., debug
    (re.compile(r"/v2/chat$"), ("message",), _typed(lambda t: "-" in t or t == "debug"), "a Cohere v2 chat answer"),
)


def _shape(url: str) -> tuple[tuple[str, ...], Callable[[dict[str, Any]], bool] | None, str] | None:
    path = url.split("?", 1)[0].rstrip("/")
    for pattern, whole, event, name in _SHAPES:
        if pattern.search(path):
            return whole, event, name
    return None


def known(url: str) -> bool:
    """Whether ``url`` calls an API judged here (its answers and events are JSON).

    >>> known("http://h/v1/chat/completions?x=1"), known("http://h/v1/audio/speech")
    (True, False)
    """
    return _shape(url) is not None


_UNSAID = frozenset({"", "text/plain", "application/octet-stream", "binary/octet-stream"})


def relabelled(url: str, ctype: str, wants: bool | None) -> str | None:
    """The Content-Type a success to ``url`` (an API judged here) has, when its own (``ctype``,
    lower case) says nothing of it: none, ``text/plain`` or an octet stream, and the request
    said which form it wants (``wants``: a stream, or one JSON body; None: not said). Such an
    answer is read and judged as that type, and served with it: the Mistral SDK refused a
    completion sent as ``text/plain`` ("Unexpected response received: Status 200 Content-Type
    text/plain"), the others read it as JSON. None: the type is left as it came.

    >>> relabelled("http://h/v1/chat/completions", "text/plain; charset=utf-8", False)
    'application/json'
    >>> relabelled("http://h/v1/chat/completions", "", True)
    'text/event-stream'
    >>> relabelled("http://h/v1beta/models/g:streamGenerateContent", "text/plain", True)  # a JSON array
    'application/json'
    >>> relabelled("http://h/v1/audio/speech", "", False), relabelled("http://h/v1/messages", "application/json", False)
    (None, None)
    """
    if wants is None or ctype.split(";", 1)[0].strip() not in _UNSAID or not known(url):
        return None
    if wants and not (":streamGenerateContent" in url.split("?", 1)[0] and "alt=sse" not in url):
        return "text/event-stream"
    return "application/json"


def foreign(status: int, url: str, obj: Any) -> str | None:
    """Why a whole success (``status`` 2xx) to ``url``, its parsed JSON ``obj``, is not an
    answer of the API ``url`` calls; None when it can be (or that API is not judged).

    >>> foreign(200, "http://h/v1/chat/completions", {"type": "message", "content": []})
    'a 200 JSON answer that is not an OpenAI chat completion (none of choices: another API answered)'
    >>> foreign(200, "http://h/v1/chat/completions", {"choices": []}) is None
    True
    >>> foreign(200, "http://h/v1/chat/completions", {"error": {"message": "x"}}) is None  # whole_error's
    True
    >>> foreign(200, "http://h/v2/chat", {"id": "x", "message": "invalid api token"})[:40]
    'a 200 JSON answer that is not a Cohere v'
    >>> foreign(200, "http://h/v1/files", {"anything": 1}) is None, foreign(200, "http://h/v1/embeddings", [1]) is None
    (True, True)
    """
    shape = _shape(url)
    if shape is None or not isinstance(obj, dict) or not 200 <= status < 300 or status == 204:
        return None
    whole, _, name = shape
    if any(isinstance(obj.get(k), (dict, list, int)) for k in whole) or isinstance(obj.get("error"), (dict, str)):
        return None  # (a field of the answer is no text: Cohere's error is {"id", "message": "..."})
    return f"a {status} JSON answer that is not {name} (none of {', '.join(whole)}: another API answered)"


def foreign_stream(status: int, url: str, framing: str, prefix: bytes) -> str | None:
    """Why a streamed success to ``url``, read to its first event (``prefix``, SSE), is not a
    stream of the API ``url`` calls: the event's data is not JSON (and not OpenAI's
    ``[DONE]``), or has none of the fields that API's events have. None when it can be (or is
    not judged: other framings, a first event not whole, a path not in the table).

    >>> foreign_stream(200, "http://h/v1/chat/completions", "sse", b"data: {not json\\n\\n")
    'a 200 stream whose first event is not JSON (data: {not json)'
    >>> foreign_stream(200, "http://h/v1/messages", "sse", b'data: {"choices": []}\\n\\n')
    'a 200 stream whose first event is not of an Anthropic message (another API answered)'
    >>> foreign_stream(200, "http://h/v1/responses", "sse", b'data: {"type": "message", "content": []}\\n\\n')
    'a 200 stream whose first event is not of an OpenAI response (another API answered)'
    >>> foreign_stream(200, "http://h/v1/chat/completions", "sse", b'data: {"choices": []}\\n\\n') is None
    True
    """
    shape = _shape(url)
    if framing != "sse" or shape is None or not 200 <= status < 300:
        return None
    found = first_said(sse_events(prefix))
    if found is None:
        return None
    _, data, obj = found
    if data.strip() == "[DONE]":  # the stream's end, and nothing before it
        return f"a {status} stream that ended without an event (no answer in it)"
    if obj is NOT_JSON:
        return f"a {status} stream whose first event is not JSON (data: {data[:40]})"
    _, event_of, name = shape
    if event_of is None or not isinstance(obj, dict) or "error" in obj or event_of(obj):
        return None
    return f"a {status} stream whose first event is not of {name} (another API answered)"


def empty_stream(status: int, url: str, framing: str, whole: bytes) -> str | None:
    """Why a streamed success to ``url`` that ended cleanly (``whole``: every byte of it) is
    not a stream of the API ``url`` calls: not one event with data came (nothing at all,
    keep-alives, OpenAI's ``[DONE]`` alone, a JSON array with no element). None when one did,
    an opening one included (a background response's ``response.created`` gives the id its
    stream is resumed by), or the API is not judged, or the framing is neither SSE nor an array. Every stream of these APIs sends one; served,
    the OpenAI SDK iterated nothing and returned no text and no error, as for an empty JSON
    body (which is malformed).

    >>> empty_stream(200, "http://h/v1/chat/completions", "sse", b": ping\\n\\ndata: [DONE]\\n\\n")
    'a 200 stream that ended without an event (no answer in it)'
    >>> empty_stream(200, "http://h/v1/chat/completions", "sse", b'data: {"choices": []}\\n\\n') is None
    True
    >>> empty_stream(200, "http://h/v1beta/models/g:streamGenerateContent", "array", b"[]")[:26]
    'a 200 stream that ended wi'
    """
    if _shape(url) is None or framing not in ("sse", "array") or not 200 <= status < 300 or status == 204:
        return None
    parser = SSEParser() if framing == "sse" else JSONArrayParser()
    events = [*parser.feed(whole), *parser.finish()]
    if any(data.strip() not in ("", "[DONE]") for _, data in events):
        return None
    return f"a {status} stream that ended without an event (no answer in it)"


def whole_error(status: int, body: bytes) -> tuple[int, Any] | None:
    """The status a whole 2xx JSON answer says it failed with, when it is an error object and
    nothing else (OpenRouter's and some OpenAI-compatible servers' ``200 {"error": {"code":
    502, ...}}``), and the object; None otherwise.

    >>> whole_error(200, b'{"error": {"code": 502, "message": "upstream down"}}')[0]
    502
    >>> whole_error(200, b'{"error": {"type": "overloaded_error", "message": "x"}, "type": "error"}')[0]
    529
    >>> whole_error(200, b'{"choices": [], "error": null}') is None, whole_error(200, b'[1]') is None
    (True, True)
    """
    if not 200 <= status < 300 or not body.lstrip().startswith(b"{") or b'"error"' not in body:
        return None
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("error"), (dict, str)) or obj.get("error") == "":
        return None
    if set(obj) - {"error", "type", "object", "id"}:  # an answer that also carries its result
        return None
    return error_status(obj), obj
