"""A routed attempt's answer that arrived but cannot be the API's answer (SPEC §12): its own
failure class, ``malformed``, apart from ``connect`` (nothing came) and an HTTP error (the
upstream said it failed).

An inference API answers a success with JSON (or a stream, judged by its first event:
:mod:`.first_event`). A success whose body is not what its head says is none the client's SDK
can read: ``application/json`` that does not parse (a proxy cut it, a server crashed mid-write),
an HTML page (a load balancer's or a captive portal's "welcome" page answered 200), or a body
cut before the end its head declared. Served, the SDKs raised ``json.JSONDecodeError``, or
returned the page as a ``str`` where a completion was expected (the OpenAI SDK does for a
non-JSON answer), outside every documented error type. Such an attempt has failed, and fails
over as ngrok's "provider errors" do (docs/routing.md, "Failover"); its outcome error and
``failover_on`` term is ``engine.route_errors.MALFORMED``.
"""

from __future__ import annotations

import json

from ..providers.parsed_json import loads
from .api_shape import foreign

__all__ = ["CUT", "json_type", "malformed", "malformed_stream", "mismatched"]

_HTML = (b"<!doctype html", b"<html")


def malformed(status: int, ctype: str, body: bytes, url: str = "") -> str | None:
    """Why a whole, non-streamed answer of ``status`` (< 300), ``ctype`` (lower case) and
    ``body`` (decoded) cannot be the API's answer, in a few words; None when it can.
    Only what is certain is judged: JSON that does not parse, an HTML page, JSON that is not
    the answer of the API ``url`` calls (:func:`~.api_shape.foreign`; no ``url``: not judged);
    any other type (audio, a transcript as text) passes as it came.

    >>> malformed(200, "application/json", b'{"id": "x", "choi')
    'a 200 answer whose JSON body does not parse (cut, or not JSON)'
    >>> malformed(200, "text/html; charset=utf-8", b"<html>Welcome to nginx!</html>")
    'a 200 answer that is an HTML page (a proxy or load balancer answered), not the API'
    >>> malformed(200, "application/json", b'{"ok": true}') is None, malformed(200, "audio/mpeg", b"ID3") is None
    (True, True)
    """
    if status >= 300 or status < 200 or status == 204:
        return None
    head = body[:64].lstrip().lower()
    if "html" in ctype or head.startswith(_HTML):
        return f"a {status} answer that is an HTML page (a proxy or load balancer answered), not the API"
    if json_type(ctype):
        try:
            obj = loads(body)  # kept for the middleware, which parses the same text
        except (ValueError, RecursionError):
            return f"a {status} answer whose JSON body does not parse (cut, or not JSON)"
        return foreign(status, url, obj)
    return None


def json_type(ctype: str) -> bool:
    """Whether a content type (lower case) is one JSON document's: ``application/json``,
    ``text/json``, a ``+json`` suffix; not JSON Lines (Anthropic's batch results,
    ``application/x-jsonl``), NDJSON or ``json-seq``, a JSON text a line, which no JSON parser
    reads whole (payloads29: such an answer was a 502 ``upstream_malformed``).

    >>> json_type("application/json; charset=utf-8"), json_type("application/problem+json"), json_type("application/x-jsonl")
    (True, True, False)
    """
    base = ctype.split(";", 1)[0].strip()
    return base in ("application/json", "text/json", "application/x-json") or base.endswith("+json")


def malformed_stream(status: int, ctype: str, framing: str, opening: bytes) -> str | None:
    """Why a streamed answer (by its path or type: Gemini's ``:streamGenerateContent`` is one
    whatever its type says), read up to its first event (``opening``), cannot be the API's
    stream; None when it can: an HTML page, or a JSON array stream (``framing``) that opens
    with no ``[`` (a whole JSON object or text where the array's elements should be).

    >>> malformed_stream(200, "text/html", "ndjson", b"<html>Welcome</html>")
    'a 200 stream that is an HTML page (a proxy or load balancer answered), not the API'
    >>> malformed_stream(200, "application/json", "array", b'{"id": "x", "cho')
    'a 200 stream whose JSON array does not open (not the array its type says)'
    >>> malformed_stream(200, "application/json", "array", b'[{"candidates": []}') is None
    True
    """
    head = opening[:64].lstrip().lower()
    if "html" in ctype or head.startswith(_HTML):
        return f"a {status} stream that is an HTML page (a proxy or load balancer answered), not the API"
    if framing == "array" and head and not head.startswith(b"["):
        return f"a {status} stream whose JSON array does not open (not the array its type says)"
    return None


def mismatched(wants: bool | None, streaming: bool, status: int, body: bytes, url: str = "") -> str | None:
    """Why a success (``status`` 2xx but 204) that is ``streaming`` or not, ``body`` its whole
    (or its stream's opening), is not the form its request asked for (``wants``: a stream or
    not; None: the request says nothing), in a few words; None when it is, or cannot be told.
    A whole JSON answer (or nothing) to a request for a stream: its SDK reads events and finds
    none. A stream to a request for a whole answer: its SDK parses one JSON body and fails.
    (Gemini's ``alt=sse`` asks for events whatever its method: not judged.)

    >>> mismatched(True, False, 200, b'{"id": "chatcmpl-1", "choices": []}')
    'a 200 JSON answer to a request for a stream (its SDK reads events, and finds none)'
    >>> mismatched(False, True, 200, b'data: {"id": "chatcmpl-1"}\\n\\n')
    'a 200 stream answering a request for a whole answer (its SDK parses one JSON body)'
    >>> mismatched(True, True, 200, b"data: {}"), mismatched(None, False, 200, b"{}")
    (None, None)
    >>> mismatched(True, False, 200, b"hi"), mismatched(False, True, 200, b"data: {}", "/m:generateContent?alt=sse")
    (None, None)
    """
    if wants is None or wants == streaming or not 200 <= status < 300 or status == 204:
        return None
    if streaming:
        return None if "alt=sse" in url else \
            f"a {status} stream answering a request for a whole answer (its SDK parses one JSON body)"
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return None  # events with a type that does not say so, or text: served as they came
    return f"a {status} JSON answer to a request for a stream (its SDK reads events, and finds none)"


CUT = "an answer cut before its end (its head came, then the connection broke)"
"""What a body cut after its head says (``Router.send``)."""
