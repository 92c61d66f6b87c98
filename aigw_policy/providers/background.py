"""OpenAI's background responses (``POST /v1/responses`` with ``background: true``): what their
answers say of the usage, and when. Pure; read by :mod:`.response` and the engine's charging.

The ``POST`` answers at once, the model not run yet (``status: queued`` or ``in_progress``,
``usage: null``); the usage arrives with the finished response, in the answer to a read of it
(``GET /v1/responses/{id}``, polled; that read resumed as a stream, ``?stream=true``, whose
``response.completed`` carries it; ``POST /v1/responses/{id}/cancel``), as many times as it is
read. :func:`background_state` tells the two apart by the answer (the Response object says
``background: true``), so that the engine charges the usage once, at the first read that
carries it, under :func:`charge_id` (docs/providers.md, "Background responses").

Gemini's Interactions API runs likewise (``POST /v1beta/interactions`` with ``background:
true`` answers ``status: in_progress``, no usage; ``GET .../interactions/{id}`` finds it done,
with its ``usage``), but its answer never says it ran in the background (the request's field
is input only): :func:`interaction_state` takes every finished interaction for one, so that
the call that ran it (a background one's first read, or the ``POST`` itself, JSON or stream)
charges its usage under :func:`charge_id` and any later read of it nothing.

OpenAI's file batches (``POST /v1/batches``) run so too: :func:`background_state` gives
:func:`~.batches.batch_state` of a Batch object, so that its usage is charged once, by the
first read that finds it finished. So do Perplexity's async requests (``POST
/async/chat/completions`` or ``/v1/async/sonar``, a job; ``GET .../{id}`` finds it ``COMPLETED``
with the chat completion in its ``response``): :func:`async_state`. And xAI's deferred chat
completions (``deferred: true`` answers ``{request_id}``; ``GET
/v1/chat/deferred-completion/{request_id}`` answers the completion once it is ready):
:func:`deferred_state`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from .batch_results import results_state
from .batches import batch_state, gemini_batch_state

__all__ = ["ASYNC_PENDING_NOTE", "DEFERRED_NOTE", "DEFERRED_PENDING_NOTE", "JOB_READ", "PENDING_NOTE", "async_result",
           "async_state", "background_of", "background_state", "charge_id", "deferred", "deferred_read", "deferred_state",
           "interaction_state", "response_read", "stored_completion", "stored_response"]

_RUNNING = frozenset(("queued", "in_progress"))
_FINISHED = frozenset(("completed", "incomplete", "failed", "cancelled"))
_TAIL = 1 << 22  # a byte stream's last bytes decoded to find its final event (its usage is there)

_TRUE = re.compile(r'"background"\s*:\s*true')  # an event's response is a background one: parse it

PENDING_NOTE = "background response not run yet: its usage is charged when read back"
"""The note of a background ``POST``'s usage (0 tokens: nothing has run)."""

ASYNC_PENDING_NOTE = "async request not run yet: its usage is charged when a read finds it completed"
"""The note of a Perplexity async request's creation (0 tokens: nothing has run)."""

DEFERRED_NOTE = "deferred: true: answered by a request id, the completion read back later"
"""The classification note of a chat completion that asks to be deferred (``deferred: true``, xAI's),
whatever host it is sent to (a route's client speaks to the gateway's)."""

DEFERRED_PENDING_NOTE = "deferred completion not run yet: its usage is charged by the read that carries its result"
"""The note of an xAI deferred chat completion's creation (0 tokens: nothing has run)."""

_DEFERRED_READ = "deferred completion `"
_DEFERRED_PATH = re.compile(r"/chat/deferred-completion/([A-Za-z0-9_-]{1,200})/?(?:\?.*)?$")

_ASYNC_RUNNING = frozenset(("CREATED", "IN_PROGRESS"))
_ASYNC_DONE = frozenset(("COMPLETED", "FAILED"))


_READ = re.compile(r"/(?:responses/(resp_[A-Za-z0-9_-]{1,200})(/cancel|/input_items)?"
                   r"|chat/completions/(chatcmpl-[A-Za-z0-9_-]{1,200})(/messages)?)/?$")
_READS = {None: ("GET", "DELETE"), "/cancel": ("POST",), "/input_items": ("GET",)}
JOB_READ = re.compile(r"/(?:async/chat/completions|async/sonar|chat/deferred-completion)/([A-Za-z0-9_-]{1,200})/?$")
"""The path of a read of a job a provider runs later and keeps for the key that made it: Perplexity's
async request (``GET /async/chat/completions/{id}``, ``GET /v1/async/sonar/{id}``), xAI's deferred
chat completion (``GET /v1/chat/deferred-completion/{request_id}``); its group, the job's id."""
_CHAT_READS = {None: ("GET", "POST", "DELETE"), "/messages": ("GET",)}


def response_read(method: str, path: str) -> str | None:
    """The id of the stored response ``method path`` reads or acts on (``GET
    /v1/responses/{id}``, resumed as a stream with ``?stream=true``; ``POST .../cancel``;
    ``GET .../input_items``; ``DELETE``), or of the stored chat completion (``GET`` / ``POST``,
    its metadata's update / ``DELETE /v1/chat/completions/{id}``, ``GET .../messages``); None
    for any other request.

    >>> response_read("GET", "/v1/responses/resp_68a1"), response_read("POST", "/v1/responses/resp_68a1/cancel")
    ('resp_68a1', 'resp_68a1')
    >>> response_read("POST", "/v1/responses"), response_read("POST", "/v1/responses/resp_68a1")
    (None, None)
    >>> response_read("POST", "/v1/chat/completions/chatcmpl-9"), response_read("POST", "/v1/chat/completions")
    ('chatcmpl-9', None)

    And the id of a job a provider keeps for the key that made it (:data:`JOB_READ`, ``GET``
    only), which is charged when read (:func:`async_state`, :func:`deferred_state`):

    >>> response_read("GET", "/async/chat/completions/3c90c3cc"), response_read("GET", "/v1/chat/deferred-completion/f15c-1")
    ('3c90c3cc', 'f15c-1')
    """
    m = _READ.search(path)
    if m is None:
        job = JOB_READ.search(path) if method.upper() == "GET" else None
        return job.group(1) if job is not None else None
    if m.group(1) is not None:
        return m.group(1) if method.upper() in _READS[m.group(2)] else None
    return m.group(3) if method.upper() in _CHAT_READS[m.group(4)] else None


def charge_id(response_id: str) -> str:
    """The limit store's request id a background response's usage is charged under: the same
    whichever request reads it, so a second read charges nothing (the store is idempotent by
    request id)."""
    return f"bg:{response_id[:128]}"


def background_state(response: Mapping[str, Any]) -> tuple[Literal["pending", "finished"], str] | None:
    """``("pending", id)`` for the answer of a background ``POST`` (the model not run yet),
    ``("finished", id)`` for an answer that carries a finished background response with its
    usage (a read, a resumed stream, a cancel); None for anything else (every other answer)."""
    parts = _answer_parts(response)
    if parts is None:
        return None
    body, stream = parts
    if isinstance(stream, (str, bytes, bytearray)):
        # its end (a finished response), else its start (`response.created`: a stream cut before the end)
        body = _last_response(stream) or _first_response(stream)
    elif isinstance(body, (str, bytes, bytearray)):
        if not _may_run_later(body):  # (an image's answer of megabytes: one scan, not a parse)
            return None
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    if not isinstance(body, Mapping):
        return None
    if body.get("background") is not True:  # an OpenAI file batch's answer runs likewise (providers/batches.py)
        return batch_state(body) if body.get("object") == "batch" else None
    return _state(body, _RUNNING, _FINISHED)


def _answer_parts(response: Any) -> tuple[Any, Any] | None:
    """An answer's ``body`` and its stream (``sse``, or a body that is an event stream: None
    when neither); None when the answer is no mapping."""
    if type(response) is not dict and not isinstance(response, Mapping):
        return None
    body = response.get("body")
    stream = response.get("sse")
    if stream is None and isinstance(body, (str, bytes, bytearray)) and _has_event(body):
        stream = body
    return body, stream


def _state(body: Mapping[str, Any], running: frozenset[str], done: frozenset[str]) -> tuple[
        Literal["pending", "finished"], str] | None:
    """``("pending", id)`` for a body whose ``status`` is one of ``running`` without a usage,
    ``("finished", id)`` for one of ``done`` with its usage; else None."""
    rid, status = body.get("id"), body.get("status")
    if not isinstance(rid, str) or not rid or not isinstance(status, str):
        return None
    if status in running and not isinstance(body.get("usage"), Mapping):
        return "pending", rid
    if status in done and isinstance(body.get("usage"), Mapping):
        return "finished", rid
    return None


def _may_run_later(text: str | bytes | bytearray) -> bool:
    """Whether an answer's text may be a background response's or a batch's (it names
    ``"background"`` or ``"batch"``): only such a text is parsed."""
    return ('"background"' in text or '"batch"' in text) if isinstance(text, str) else (
        b'"background"' in text or b'"batch"' in text)


def _has_event(text: str | bytes | bytearray) -> bool:
    head = text[:256]
    return (b"data:" in head or b"event:" in head) if not isinstance(head, str) else (
        "data:" in head or "event:" in head)


def _last_response(stream: str | bytes | bytearray) -> Mapping[str, Any] | None:
    """The ``response`` of a Responses stream's final event (``response.completed`` of a
    resumed background stream; one of its last three events), parsed only when its start says
    ``"background": true``: searched from the end, so a long stream costs its last events."""
    text = stream if isinstance(stream, str) else bytes(stream).decode("utf-8", "replace") \
        if len(stream) <= _TAIL else bytes(stream[-_TAIL:]).decode("utf-8", "replace")
    return _last_event(text, "response", lambda line: '"response"' in (head := line[:4096])
                       and _TRUE.search(head) is not None)


def _last_event(raw: Any, key: str, wanted: Callable[[Any], bool]) -> Mapping[str, Any] | None:
    """The ``key`` object of the first of a stream's last three ``data:`` lines (``raw``: text or
    bytes, searched from the end) that ``wanted`` says is the event; only that line is parsed."""
    data, newline = ("data:", "\n") if isinstance(raw, str) else (b"data:", b"\n")
    end = len(raw)
    for _ in range(3):
        at = raw.rfind(data, 0, end)
        if at < 0:
            return None
        stop = raw.find(newline, at, end)
        line = raw[at + 5: stop if stop >= 0 else end]
        if wanted(line):
            try:
                event = json.loads(line)
            except (ValueError, RecursionError):
                return None
            found = event.get(key) if isinstance(event, Mapping) else None
            return found if isinstance(found, Mapping) else None
        end = at
    return None


def _first_response(stream: str | bytes | bytearray, background: bool = True) -> Mapping[str, Any] | None:
    """The ``response`` of a Responses stream's first event that has one (``response.created``),
    among its first 64 KiB, when it says ``"background": true`` (or whatever it says, when not
    ``background``)."""
    head = stream[:1 << 16]
    text = head if isinstance(head, str) else bytes(head).decode("utf-8", "replace")
    for line in text.splitlines()[:8]:
        if line.startswith("data:") and '"response"' in line[:4096] and (
                not background or _TRUE.search(line, 0, 4096) is not None):
            try:
                event = json.loads(line[5:])
            except (ValueError, RecursionError):
                return None
            found = event.get("response") if isinstance(event, Mapping) else None
            return found if isinstance(found, Mapping) else None
    return None


_STORED_ID = re.compile(r'"id"\s*:\s*"(resp_[A-Za-z0-9_-]{1,200})"')
_STORED_ID_B = re.compile(_STORED_ID.pattern.encode())
_OBJECT = re.compile(r'"object"\s*:\s*"response"')
_OBJECT_B = re.compile(_OBJECT.pattern.encode())
_NOT_STORED = re.compile(r'"store"\s*:\s*false')
_NOT_STORED_B = re.compile(_NOT_STORED.pattern.encode())


def stored_response(response: Mapping[str, Any]) -> str | None:
    """The id of the response an answer to ``POST /v1/responses`` says its provider keeps: a
    2xx Response object (JSON, or a stream's ``response.created``) whose ``store`` is not
    ``false`` (OpenAI stores every response unless asked not to). The SDK names it next in
    ``responses.retrieve(id)`` and ``previous_response_id``; it lives with the key that made it.
    A text body is not parsed: its id is read from its first 4 KiB (a Response object's ``id``
    comes first), and ``"store": false`` anywhere in it counts as not kept (a nested key of
    that name and value only costs a read the gateway then refuses, as before).

    >>> stored_response({"status_code": 200, "body": {"id": "resp_1", "object": "response", "output": []}})
    'resp_1'
    >>> stored_response({"status_code": 200, "body": b'{"id": "resp_1", "object": "response", "store": false}'})
    >>> stored_response({"status_code": 400, "body": {"id": "resp_1", "object": "response"}})
    """
    status = response.get("status_code") if isinstance(response, Mapping) else None
    parts = _answer_parts(response) if type(status) is int and 200 <= status < 300 else None
    if parts is None:
        return None
    body, stream = parts
    if isinstance(stream, (str, bytes, bytearray)):
        body = _first_response(stream, background=False)
    if isinstance(body, Mapping):
        rid = body.get("id")
        if body.get("object") != "response" or body.get("store") is False or not isinstance(rid, str):
            return None
        return rid if _STORED_ID.fullmatch(f'"id":"{rid}"') else None
    if isinstance(body, str):
        found = _STORED_ID.search(body, 0, 4096)
        if found is None or _OBJECT.search(body, 0, 4096) is None or _NOT_STORED.search(body) is not None:
            return None
        return found.group(1)
    if isinstance(body, (bytes, bytearray)):
        found_b = _STORED_ID_B.search(body, 0, 4096)
        if found_b is None or _OBJECT_B.search(body, 0, 4096) is None or _NOT_STORED_B.search(body) is not None:
            return None
        return found_b.group(1).decode()
    return None


_COMPLETION_ID = re.compile(r'"id"\s*:\s*"(chatcmpl-[A-Za-z0-9_-]{1,200})"')
_COMPLETION_OBJECT = re.compile(r'"object"\s*:\s*"chat\.completion(?:\.chunk)?"')


def stored_completion(response: Mapping[str, Any]) -> str | None:
    """The id of the chat completion a 2xx answer to ``POST /v1/chat/completions`` with
    ``store: true`` carries (the caller knows the request asked it kept: the answer does not
    say): a ``chat.completion`` object's, or a stream's first chunk's (every chunk carries it).
    Only the first 4 KiB of a text or a stream are read (the id comes first).

    >>> stored_completion({"status_code": 200, "body": {"id": "chatcmpl-1", "object": "chat.completion"}})
    'chatcmpl-1'
    >>> stored_completion({"status_code": 200, "body": b'data: {"id":"chatcmpl-2","object":"chat.completion.chunk"}'})
    'chatcmpl-2'
    >>> stored_completion({"status_code": 500, "body": {"id": "chatcmpl-1", "object": "chat.completion"}})
    """
    status = response.get("status_code") if isinstance(response, Mapping) else None
    parts = _answer_parts(response) if type(status) is int and 200 <= status < 300 else None
    if parts is None:
        return None
    body, stream = parts
    if isinstance(body, Mapping) and stream is None:
        cid = body.get("id")
        if body.get("object") != "chat.completion" or not isinstance(cid, str):
            return None
        return cid if _COMPLETION_ID.fullmatch(f'"id":"{cid}"') else None
    head = stream if stream is not None else body
    if not isinstance(head, (str, bytes, bytearray)):
        return None
    text = head[:4096] if isinstance(head, str) else bytes(head[:4096]).decode("utf-8", "replace")
    found = _COMPLETION_ID.search(text)
    return found.group(1) if found is not None and _COMPLETION_OBJECT.search(text) is not None else None


_INTERACTION_RUNNING = frozenset(("queued", "in_progress"))
_INTERACTION_DONE = frozenset(("completed", "incomplete", "failed", "cancelled", "requires_action",
                               "budget_exceeded"))


def interaction_state(response: Mapping[str, Any]) -> tuple[Literal["pending", "finished", "cut"], str] | None:
    """:func:`background_state` of an answer of Gemini's Interactions API: ``("pending", id)``
    for an interaction still running without usage (a background ``POST``'s answer, a read of
    it too soon), ``("finished", id)`` for one that ran with its usage (JSON, or a stream's
    ``interaction.completed``), ``("cut", id)`` for a stream cut before that event (its
    ``interaction.created`` names the id: the usage is estimated, and charged under
    :func:`charge_id` once, so that a later read of it charges nothing); None for anything else
    (a ``generateContent`` answer has no ``status``: it is parsed only when a ``"status"`` key
    is in its text)."""
    parts = _answer_parts(response)
    if parts is None:
        return None
    body, stream = parts
    if isinstance(stream, (str, bytes, bytearray)):
        body = _last_interaction(stream)
        if body is None:
            first = _first_interaction(stream)
            return ("cut", first) if first is not None else None
    elif isinstance(body, (str, bytes, bytearray)):
        if '"status"' not in body if isinstance(body, str) else b'"status"' not in body:
            return None
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    if not isinstance(body, Mapping) or "candidates" in body:
        return None
    return _state(body, _INTERACTION_RUNNING, _INTERACTION_DONE)


def _last_interaction(stream: str | bytes | bytearray) -> Mapping[str, Any] | None:
    """The ``interaction`` of an Interactions stream's ``interaction.completed`` event, one of
    its last three ``data:`` lines (a stream cut before it: None, the usage an estimate); only
    that line is decoded (a Gemini stream of any other kind costs three ``rfind``)."""
    raw = stream if isinstance(stream, str) else bytes(stream) if isinstance(stream, bytearray) else stream
    marker: Any = '"interaction.completed"' if isinstance(raw, str) else b'"interaction.completed"'
    return _last_event(raw, "interaction", lambda line: marker in line[:4096] or marker in line[-256:])


def _first_interaction(stream: str | bytes | bytearray) -> str | None:
    """The id of the interaction an Interactions stream's ``interaction.created`` event names
    (one of its first 8 lines, among its first 64 KiB), or None."""
    head = stream[:1 << 16]
    text = head if isinstance(head, str) else bytes(head).decode("utf-8", "replace")
    for line in text.splitlines()[:8]:
        if line.startswith("data:") and '"interaction.created"' in line[:4096]:
            try:
                event = json.loads(line[5:])
            except (ValueError, RecursionError):
                return None
            found = event.get("interaction") if isinstance(event, Mapping) else None
            rid = found.get("id") if isinstance(found, Mapping) else None
            return rid if isinstance(rid, str) and rid else None
    return None


def async_job(response: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The job a Perplexity async answer is (``{id, model, created_at, status, response}``: its
    creation's answer, a read of it), parsed when it is text; None for any other answer."""
    body = response.get("body") if isinstance(response, Mapping) else None
    if isinstance(body, (str, bytes, bytearray)):
        if ('"created_at"' not in body) if isinstance(body, str) else (b'"created_at"' not in body):
            return None
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    if not isinstance(body, Mapping) or not isinstance(body.get("created_at"), int):
        return None
    return body


def async_state(response: Mapping[str, Any]) -> tuple[Literal["pending", "finished"], str] | None:
    """:func:`background_state` of a Perplexity async job: ``("pending", id)`` while it is
    ``CREATED`` or ``IN_PROGRESS``, ``("finished", id)`` once ``COMPLETED`` (its ``response``
    carries the usage) or ``FAILED`` (nothing to charge); None for any other answer (a listing's
    jobs are under ``requests``)."""
    job = async_job(response)
    rid, status = (job.get("id"), job.get("status")) if job is not None else (None, None)
    if not isinstance(rid, str) or not 0 < len(rid) <= 200 or not isinstance(status, str):
        return None
    return ("pending", rid) if status in _ASYNC_RUNNING else ("finished", rid) if status in _ASYNC_DONE else None


def async_result(response: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The chat completion a finished Perplexity async job carries (its ``response``), or None
    (a failed job's, or any other answer)."""
    job = async_job(response)
    found = job.get("response") if job is not None and job.get("status") == "COMPLETED" else None
    return found if isinstance(found, Mapping) else None


def deferred_read(url: str) -> str | None:
    """The classification note of a read of an xAI deferred chat completion's result (``GET
    /v1/chat/deferred-completion/{request_id}``), naming its request id; None for any other URL.

    >>> deferred_read("https://api.x.ai/v1/chat/deferred-completion/f15c-11"), deferred_read("/v1/chat/completions")
    ('deferred completion `f15c-11`: its result, charged once', None)
    """
    m = _DEFERRED_PATH.search(url)
    return f"{_DEFERRED_READ}{m.group(1)}`: its result, charged once" if m is not None else None


def deferred(provider: str, notes: tuple[str, ...]) -> bool:
    """Whether a request is an xAI deferred chat completion or the read of its result: xAI's own
    host, or the request says so (:data:`DEFERRED_NOTE`, :func:`deferred_read`'s note: a route's
    client speaks to the gateway's host, and its served provider is known only after the call)."""
    return provider == "xai" or any(n == DEFERRED_NOTE or n.startswith(_DEFERRED_READ) for n in notes)


def deferred_state(response: Mapping[str, Any], notes: tuple[str, ...]) -> tuple[
        Literal["pending", "finished"], str] | None:
    """:func:`background_state` of an xAI deferred chat completion: ``("pending", request_id)``
    for its creation's answer (``{request_id}``, no choices), ``("finished", request_id)`` for a
    read (``notes`` hold :func:`deferred_read`'s) whose 200 answer is the completion; None for
    any other answer (a read answered 202 while it runs, a 404 once it was read)."""
    body = response.get("body") if isinstance(response, Mapping) else None
    read = next((n for n in notes if n.startswith(_DEFERRED_READ)), None)
    if read is not None:
        rid = read[len(_DEFERRED_READ): read.index("`", len(_DEFERRED_READ))]
        done = response.get("status_code") == 200 and (isinstance(body, Mapping) and body.get("choices") is not None or isinstance(
            body, (str, bytes, bytearray)) and (b'"choices"' in body if not isinstance(body, str) else '"choices"' in body))
        return ("finished", rid) if done else None
    if isinstance(body, (str, bytes, bytearray)):
        if len(body) > 4096 or ('"request_id"' not in body if isinstance(body, str) else b'"request_id"' not in body):
            return None
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    made = body.get("request_id") if isinstance(body, Mapping) and body.get("choices") is None else None
    return ("pending", made) if isinstance(made, str) and 0 < len(made) <= 200 else None


def background_of(api: str, operation: str, response: Mapping[str, Any], provider: str = "",
                  notes: tuple[str, ...] = ()) -> tuple[Literal["pending", "finished", "cut"], str] | None:
    """:func:`background_state` of an OpenAI Responses call or read (:func:`async_state` of a
    Perplexity async request or read), :func:`interaction_state` of a Gemini chat or read (or
    :func:`~.batches.gemini_batch_state` of a read of its inline batch), :func:`deferred_state`
    of an xAI chat or read, :func:`~.batch_results.results_state` of a read of an Anthropic
    Message Batch's results; None for any other request."""
    if operation in ("chat", "other") and deferred(provider, notes):
        return deferred_state(response, notes)
    if api == "openai" and operation in ("responses", "other"):
        if provider == "perplexity" and operation == "other":
            return async_state(response)
        return background_state(response)
    if api == "anthropic" and operation == "other":  # a read of a Message Batch's results (providers/batch_results.py)
        return results_state(response, notes)
    if api == "gemini" and operation in ("chat", "other"):
        state = interaction_state(response)
        if state is None and operation == "other" and isinstance(response, Mapping):
            return gemini_batch_state(response.get("body"))  # a read of an inline batch that ended
        return state
    return None
