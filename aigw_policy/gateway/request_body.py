"""A request body as the policy sees it, read within a timer (:func:`receive_within`): strict JSON (duplicate keys, NaN, unpaired surrogates,
too deep or too many items refused) or text (docs/gateway.md, "Hostile input")."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any

from ..providers.classify import READS
from .key_forms import body_holds_key

__all__ = ["INVALID_BODY", "MAX_JSON_ITEMS", "MIN_BODY_RATE", "BadBody", "body_code", "body_coding", "parse_body",
           "read_body", "receive_within"]


INVALID_BODY = "ERR_NGROK_3801"
"""ngrok's code for a body its AI gateway cannot read (400 "Invalid request body": not JSON,
``model`` not a string, ``models`` not a list of strings): what a policy that routes (an
``ai-gateway`` action) says in place of the gateway's own code (:func:`body_code`)."""


def body_code(code: str, engine: Any) -> str:
    """The code of a body refused 400 with ``code`` (``invalid_json``, ``invalid_request``):
    ngrok's :data:`INVALID_BODY` under a policy that routes, else ``code``."""
    compiled = getattr(engine, "compiled", None)
    return INVALID_BODY if code in ("invalid_json", "invalid_request") and getattr(compiled, "routed", False) else code


class BadBody(Exception):
    """A body refused: ``code`` (the error body's), ``message``, ``status`` (400 or 413);
    ``close``: the answer ends the connection (a body on a method that has none: a proxy in
    front may have read it as the next request, CL.0; whatever refused it, review30)."""

    def __init__(self, code: str, message: str, status: int = 400, close: bool = False) -> None:
        self.code, self.message, self.status, self.close = code, message, status, close


MAX_JSON_ITEMS = 1_000_000
"""A body with more comma-separated items is refused (413) before it is parsed: parsed, tiny
items cost ~25x their bytes (`[{},{},...]`: 28 MiB of text is 700 MiB of objects). Commas
inside strings count too; a million is ~4x the text of a 1M-token context."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BadBody("duplicate_json_key", f"the request body has the key `{key[:80]}` twice: "
                               "which one counts depends on the parser, so it is refused")
            seen.add(key)
    return out


_READ_OBJECTS = ("generationConfig", "generation_config", "options", "stream_options", "inferenceConfig")
"""The objects inside a body whose fields the policy reads besides the top level's (Gemini's
output cap and candidate count, Ollama's ``num_predict``, Bedrock's ``maxTokens``...)."""

_READ_NAMES = frozenset((
    "model", "models", "stream", "stream_options", "include_usage", "messages", "input", "prompt", "instructions",
    "system", "tools", "contents", "systemInstruction", "system_instruction", "max_tokens", "max_completion_tokens",
    "max_output_tokens", "maxOutputTokens", "n", "best_of", "candidateCount", "candidate_count",
    "generationConfig", "generation_config", "options", "num_predict", "inferenceConfig", "maxTokens",
    "max_new_tokens", "max_gen_len"))
"""The spellings the APIs define of the fields the policy reads, at the top level and in
:data:`_READ_OBJECTS` (Gemini's proto JSON takes snake_case and lowerCamelCase alike)."""
_READ_FOLDS = frozenset(name.replace("_", "").casefold() for name in _READ_NAMES)


def _one_spelling(body: dict[str, Any]) -> None:
    """Refuse a body whose top level (or an object of :data:`_READ_OBJECTS`) spells a field the
    policy reads otherwise than an API defines it (``MODEL``, ``Max_Tokens``, ``ſtream``), or
    spells one field twice, as upstreams read it: keys equal under Unicode case folding (Go's
    ``encoding/json``, which Ollama and LocalAI decode with, matches field names so and takes the
    last: ``{"model": "allowed", "Model": "other"}`` was served as ``other``, and a lone
    ``{"MODEL": "o1"}`` as ``o1`` while the policy saw no model), or but for ``snake_case``
    against ``lowerCamelCase`` (Gemini's proto JSON reads ``max_output_tokens`` and
    ``maxOutputTokens`` as one field, while the policy read the first it found)."""
    for obj in (body, *(v for k in _READ_OBJECTS if type(v := body.get(k)) is dict)):
        seen: dict[str, str] = {}
        misspelt = None
        for key in obj:
            same = key.replace("_", "").casefold()
            if same in seen:
                raise BadBody("duplicate_json_key", f"the request body spells one field twice, `{seen[same][:80]}` "
                               f"and `{key[:80]}`: upstreams read them as one (which one counts depends on the "
                               "parser), so it is refused")
            if misspelt is None and same in _READ_FOLDS and key not in _READ_NAMES:
                misspelt = key
            seen[same] = key
        if misspelt is not None:
            raise BadBody("misspelt_json_key", f"the request body spells a field `{misspelt[:80]}`: some upstreams "
                           "read it as the field of that name in lower case, which the policy reads only as the "
                           "API spells it, so it is refused")


_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F]")


def _no_constant(name: str) -> Any:
    raise BadBody("invalid_json", f"the request body has `{name}`, which is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value - value != 0.0:  # inf (NaN never comes: it is no literal of a number)
        raise BadBody("invalid_json", f"the request body has the number `{text[:40]}`, too large for a double "
                      "(which a parser reads as `Infinity`, or refuses)")
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite)
"""One decoder for every body (a number past a double, ``1e999``, refused as ``Infinity`` is:
read as infinity, it was written out as ``Infinity`` in a rewritten body; a call per number
with a fraction or an exponent, ~0.1 us). ``json.loads`` with hooks makes a decoder and its scanner per
call (~2 us of the ~8 a short body takes). What ``json.loads`` does with bytes is done here
too (the encoding told by the first bytes, ``surrogatepass``); the scanner keeps nothing from
one body to the next but its key memo, which it clears after each, so threads may share it."""


KEY_IN_BODY = ("the request body holds the request's API key (as written, base64, hex or percent-encoded): it was "
               "not sent to the provider; the key goes in a header (or `?key=`) only")


def parse_body(body: bytes, content_type: str, method: str = "POST", secret: str | None = None) -> Any:
    """The request body as the policy sees it: JSON when it is JSON (duplicate keys, NaN and
    nesting past :data:`~aigw_policy.env.request.MAX_DEPTH` refused), else text (a form naming
    a field the policy reads otherwise than it reads it refused: :mod:`.form_body`). A body
    that claims to be JSON (or says nothing of its type), or starts as JSON under any type, and
    does not parse is refused: an upstream with a more lenient parser would read fields the
    policy never saw. So is any body of a ``method`` that runs no model (``classify.READS``: its
    answer's usage is never charged): served by an upstream that ignores the method (a stub, a
    hand-written server), a ``GET`` with a chat body was a chat whose tokens nobody counted.
    A body holding ``secret``, the gateway key its client authenticated with, is refused
    (``key_in_body``, :func:`~.key_forms.body_holds_key`; a UTF-16 or UTF-32 JSON body's text
    too): the provider, its logs and its retention would hold the key (serve29)."""
    if not body:
        return None
    read = method.upper() in READS
    if body_holds_key(body, secret, content_type):
        raise BadBody("key_in_body", KEY_IN_BODY, close=read)
    if read:
        raise BadBody("body_not_allowed", f"a {method.upper()[:10]} request has no body: the policy judges it as a "
                      "read that runs no model, and an upstream that ignores the method would serve the body as one",
                      close=True)
    if len(body) > MAX_JSON_ITEMS and body.count(b",") >= MAX_JSON_ITEMS:
        raise BadBody("json_too_many_items", f"the request body has more than {MAX_JSON_ITEMS:,} items "
                       "(commas), more than a request needs", 413)
    try:
        encoding = json.detect_encoding(body)
        try:  # strict: a surrogate's own bytes (CESU-8, WTF-8, UTF-16's lone code unit) are refused
            text, raw = body.decode(encoding), False  # (valid text, the common case: no scan for them)
        except UnicodeDecodeError:  # as json.loads reads them (surrogatepass), then judged below
            text, raw = body.decode(encoding, "surrogatepass"), True
        if secret is not None and encoding[:5] != "utf-8" and body_holds_key(text.encode(), secret, ""):
            raise BadBody("key_in_body", KEY_IN_BODY)  # (its bytes hold the key's UTF-16 or UTF-32 form)
        value = _DECODER.decode(text)
        # `\ud800` unpaired, as an escape or as bytes (UTF-16's own too): not Unicode, parsers differ on it
        if raw or _SURROGATE_ESCAPE.search(body) or encoding[:5] != "utf-8":
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        if type(value) is dict:
            _one_spelling(value)
        return value
    except UnicodeEncodeError:
        raise BadBody("invalid_json", "the request body has an unpaired surrogate (`\\ud800`, escaped or as "
                      "bytes)") from None
    except RecursionError:
        raise BadBody("json_too_deep", "the request body is nested too deeply to read") from None
    except ValueError as error:
        media = content_type.split(";", 1)[0].strip().lower()
        # a body that starts as JSON is judged as JSON whatever its declared type: an upstream
        # that reads JSON regardless of `content-type` and ignores trailing bytes would serve
        # fields (a model, a token cap) the policy never saw
        looks_json = body.lstrip()[:1] in (b"{", b"[")
        if looks_json or not media or media == "text/plain" or media.endswith(("/json", "+json")):
            where = f" ({error.msg} at line {error.lineno} column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
            raise BadBody("invalid_json", f"the request body is not valid JSON{where}") from None
        if "form" in content_type.lower():  # (a form's media type, in any case: judged there)
            from .form_body import form_problem

            if (problem := form_problem(body, content_type, _READ_FOLDS)) is not None:
                raise BadBody("unread_form_field", problem) from None
        return body.decode("utf-8", "replace")


async def receive_within(receive: Any, seconds: float | None) -> Any:
    """``await receive()``, or TimeoutError once ``seconds`` pass first (None: no limit): what
    ``async with asyncio.timeout(seconds): await receive()`` does (the same cancel of the task
    and the same uncancel, so a cancel from elsewhere still propagates as CancelledError), with
    one bare timer handle instead of ``asyncio.timeout``'s context manager, which costs ~5x a
    bare timer (its state is an Enum read several times per use; docs/gateway.md, "Sixth
    pass"). Checked against ``asyncio.timeout`` in tests/gateway/test_fast_paths.py."""
    if seconds is None:
        return await receive()
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("receive_within runs inside a task")
    loop = task.get_loop()  # not get_running_loop(): each asks getpid, a system call
    cancelling = task.cancelling()
    fired = False

    def expire() -> None:
        nonlocal fired
        fired = True
        task.cancel()

    # as asyncio.timeout: a deadline already past fires on the next step of the loop
    handle = loop.call_soon(expire) if seconds <= 0 else loop.call_later(seconds, expire)
    try:
        message = await receive()
    except BaseException as error:
        if fired and task.uncancel() <= cancelling and isinstance(error, asyncio.CancelledError):
            raise TimeoutError from error
        raise
    finally:
        handle.cancel()
    if fired:
        task.uncancel()
    return message


MIN_BODY_RATE = 500.0
"""Bytes a second a request body must keep up on average once it has begun (Apache's
``mod_reqtimeout``, ``body=20,MinRate=500``): its deadline is ``body_timeout`` from its first
piece, and each piece moves it on by ``len(piece) / MIN_BODY_RATE`` seconds. Without it a
client sending a byte every ``body_timeout - 1`` seconds held its connection (and its body's
buffer) for as long as it liked; a client at 500 bytes/s or more is never cut."""


async def read_body(receive: Any, max_body: int, timeout: float | None) -> tuple[bytes | None, bool]:
    """The request body (None past ``max_body``: counted as it arrives, chunked bodies declare
    no length) and whether the client left before its end; TimeoutError when the client pauses
    longer than ``timeout`` between two pieces, or falls under :data:`MIN_BODY_RATE`."""
    buf = bytearray()
    loop: asyncio.AbstractEventLoop | None = None
    deadline = 0.0
    while True:
        wait = timeout if loop is None or timeout is None else min(timeout, deadline - loop.time())
        message = await receive_within(receive, wait)  # a timer, not a task per piece
        if message["type"] == "http.disconnect":
            return bytes(buf), True
        piece = message.get("body", b"")
        more = message.get("more_body", False)
        if not buf and not more and type(piece) is bytes:
            # the whole body in one message (most requests): as it came, not copied twice
            return (piece if len(piece) <= max_body else None), False
        buf += piece
        if len(buf) > max_body:
            return None, False
        if not more:
            return bytes(buf), False
        if timeout is not None:
            if loop is None:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + timeout
            deadline += len(piece) / MIN_BODY_RATE


def body_coding(headers: Mapping[str, str]) -> str | None:
    """The coding a request body comes in, when it is not the body itself: a
    ``Content-Encoding``, or a ``Transfer-Encoding`` coding besides ``chunked``
    (``gzip, chunked``: llhttp takes it, uvicorn undoes only the chunking, and the policy read
    gzip bytes as the body, which went upstream unlabelled); None for a plain body."""
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return f"Content-Encoding `{encoding}`"
    transfer = headers.get("transfer-encoding")
    if transfer is not None and any(c.strip() not in ("", "chunked", "identity") for c in transfer.lower().split(",")):
        return f"Transfer-Encoding `{transfer.strip().lower()}`"
    return None
