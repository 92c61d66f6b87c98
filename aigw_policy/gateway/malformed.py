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

__all__ = ["CUT", "malformed", "malformed_stream"]

_HTML = (b"<!doctype html", b"<html")


def malformed(status: int, ctype: str, body: bytes) -> str | None:
    """Why a whole, non-streamed answer of ``status`` (< 300), ``ctype`` (lower case) and
    ``body`` (decoded) cannot be the API's answer, in a few words; None when it can.
    Only what is certain is judged: JSON that does not parse, an HTML page; any other type
    (audio, a transcript as text) passes as it came.

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
    if "json" in ctype:
        try:
            json.loads(body)
        except (ValueError, RecursionError):
            return f"a {status} answer whose JSON body does not parse (cut, or not JSON)"
    return None


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


CUT = "an answer cut before its end (its head came, then the connection broke)"
"""What a body cut after its head says (``Router.send``)."""
