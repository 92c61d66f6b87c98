"""A routed OpenAI background response (``POST /v1/responses`` with ``background: true``) is
charged once, what its finished response reports, to the candidate that served it, through
``serve``. The ``POST`` answers before the model runs (``status: queued``, no usage); a later
read carries the usage (docs/providers.md, "Background responses").

Before, the routed ``POST`` was settled at 0: the serving attempt's own reservation
(``rid#n``, the limits that depend on the model or provider) was reconciled to the queued
answer's 0 tokens, so the usage the read brought was charged to the request-wide limits only,
and a read that no route took (the route refuses reads: ``on_error: continue`` hands it on)
was charged none of the per-model limits at all. Now the serving attempt's reservation is held
with the request's under ``bg:{id}``, and the first read replaces both by the usage.

Each row: the calls (one route over two providers, the first failing), and after each call
what the per-provider limit holds for the provider that served (``p1``), and the tokens the
call's ledger record reports. By hand: the ``POST`` holds 6 input (estimate) + 2,000
``max_output_tokens``; the usage is 36 + 87 = 123."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from aigw_policy.limits.model import Charge

from .conftest import policy_gateway, record_of, routed_policy
from .raw_upstream import RawUpstream, serve

KEY = "sk-gw-routed-background"


def _response(status: str, usage: dict[str, int] | None = None) -> dict[str, Any]:
    """The background Response object (OpenAI's Responses API) as each answer shows it."""
    text = [{"type": "output_text", "text": "Otters."}] if usage else []
    return {"id": "resp_bg", "object": "response", "status": status, "background": True, "model": "gpt-4o",
            "output": [{"type": "message", "role": "assistant", "content": text}] if text else [], "usage": usage}


def _sse(*events: tuple[str, dict[str, Any]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps({'type': name, 'response': r})}\n\n" for name, r in events)


QUEUED, DONE = _response("queued"), _response("completed", {"input_tokens": 36, "output_tokens": 87,
                                                            "total_tokens": 123})
CREATED, COMPLETED = ("response.created", _response("in_progress")), ("response.completed", DONE)
POLICY = """\
on_http_request:
  - name: budgets
    actions:
      - type: token-limit
        config: {name: provider-tokens, capacity: 1000000, rate: 1h, bucket_key: ["ai.provider"]}
      - type: token-limit
        config: {name: team-tokens, capacity: 1000000, rate: 1h, bucket_key: ["identity.team"]}
"""
HELD = 6 + 2000
POST = ("POST", "/v1/responses", {"model": "gpt-4o", "input": "otters", "max_output_tokens": 2000, "background": True})
POST_STREAM = ("POST", "/v1/responses", {**POST[2], "stream": True})
GET = ("GET", "/v1/responses/resp_bg", None)
RESUMED = ("GET", "/v1/responses/resp_bg?stream=true&starting_after=0", None)
CANCEL = ("POST", "/v1/responses/resp_bg/cancel", None)

ROWS: list[tuple[str, list[tuple[Any, ...]], str, list[float], list[int]]] = [
    ("polled", [POST, GET, GET], "done", [HELD, 123, 123], [0, 123, 0]),
    ("never read: held", [POST], "done", [HELD], [0]),
    ("streamed to its end, then read", [POST_STREAM, GET], "done", [123, 123], [123, 0]),
    ("stream cut, resumed", [POST_STREAM, RESUMED, GET], "cut", [HELD, 123, 123], [0, 123, 0]),
    ("cancelled", [POST, CANCEL], "done", [HELD, 123], [0, 123]),
]


def _reply(stream_end: str) -> Any:
    def reply(request: bytes) -> bytes:
        line = request.split(b"\r\n", 1)[0].decode()
        stream = re.search(rb'"stream":\s*true', request) is not None or "stream=true" in line
        if stream and line.startswith("POST"):
            body, ctype = _sse(CREATED, COMPLETED) if stream_end == "done" else _sse(CREATED), "text/event-stream"
        elif stream:
            body, ctype = _sse(COMPLETED), "text/event-stream"
        else:
            body, ctype = json.dumps(QUEUED if line.startswith("POST /v1/responses ") else DONE), "application/json"
        data = body.encode()
        return (f"HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {len(data)}\r\n\r\n").encode() + data
    return reply


FAILING = serve(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")


def _used(gw: Any, name: str, key: str) -> float:
    spec = gw.app.holder.current.compiled.limits[name][1].limit.spec
    return gw.app.store.check([Charge(spec, key, 0)], time.time())[0].used


@pytest.mark.parametrize(("calls", "end", "held", "reported"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_routed_background_response_is_charged_once_to_the_candidate_that_served(
        calls: list[tuple[Any, ...]], end: str, held: list[float], reported: list[int]) -> None:
    with RawUpstream(FAILING) as down, RawUpstream(serve(_reply(end))) as up, \
            policy_gateway(POLICY + routed_policy([down.url, up.url], config="          on_error: continue\n")
                           .removeprefix("on_http_request:\n"), KEY, upstream=up.url, provider="openai") as gw:
        got, tokens, served = [], [], []
        for method, path, body in calls:
            answer = httpx.request(method, gw.url + path, json=body, timeout=20,
                                   headers={"authorization": f"Bearer {KEY}"})
            assert answer.status_code == 200, answer.text
            rec = record_of(gw.ledger, answer.headers["x-aigw-decision-id"])
            got.append(_used(gw, "provider-tokens", "p1"))
            tokens.append(rec["aigw.usage.total_tokens"])
            served.append(rec.get("aigw.route.key_id"))
            assert _used(gw, "provider-tokens", "p0") == 0  # the failed candidate: released
            assert _used(gw, "team-tokens", "red") == got[-1]  # the request-wide limit agrees
        assert got == held
        assert tokens == reported  # the ledger: the usage once, as charged
        assert served[0] == "k1"
