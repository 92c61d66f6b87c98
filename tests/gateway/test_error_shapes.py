"""Every wire format the gateway accepts gets the gateway's errors in its own shape: Bedrock's
(boto3 reads the exception from ``x-amzn-errortype`` / ``__type`` and the text from
``message``), Cohere's (``{"id", "message"}``) and Ollama's native API (``{"error": "..."}``,
its client's ``ResponseError``), as Anthropic's and Gemini's clients already got theirs: a
refusal before the decision (401), a denial (403), a body too large (413), a limit (429), a
route's refusals (404 no inference API, 422) and its failure (503), an internal endpoint
``serve`` cannot reach (502). A routed
stream cut after its first byte ends with an error event in that stream's own framing (an
NDJSON line, Cohere's SSE, an AWS event-stream exception message, the last element of Gemini's
JSON array and the array's end). They were all OpenAI's SSE ``data:`` line."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from aigw_policy.providers.eventstream import EventStreamParser, encode_message

from .conftest import ServerThread, lifespan, policy_gateway, routed_policy
from .providers_stub import StubProvider

KEY = "sk-gw-shapes"
MESSAGES = [{"role": "user", "content": "hi"}]

# (name, path, body): a request of each wire format that has a shape of its own (Bedrock's
# model in the path; an InvokeModel body in Anthropic's Messages format is still boto3's call)
FORMATS = [
    ("bedrock-converse", "/model/{model}/converse", {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
    ("bedrock-invoke", "/model/{model}/invoke",
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": MESSAGES}),
    ("cohere-v2", "/v2/chat", {"model": "gpt-4o", "messages": MESSAGES}),
    ("cohere-v1", "/v1/chat", {"model": "gpt-4o", "message": "hi"}),
    ("ollama", "/api/chat", {"model": "gpt-4o", "messages": MESSAGES}),
    ("ollama-generate", "/api/generate", {"model": "gpt-4o", "prompt": "hi"}),
]


def _bedrock(r: httpx.Response) -> str:
    body = r.json()
    assert isinstance(body["message"], str) and body["__type"].endswith("Exception"), body
    return str(body["aigw"]["code"])


def _cohere(r: httpx.Response) -> str:
    body = r.json()
    assert isinstance(body["message"], str) and body["id"] == r.headers["x-request-id"], body
    return str(body["aigw"]["code"])


def _ollama(r: httpx.Response) -> str:
    body = r.json()
    assert isinstance(body["error"], str), body
    return str(body["aigw"]["code"])


SHAPES: dict[str, Callable[[httpx.Response], str]] = {"bedrock": _bedrock, "cohere": _cohere, "ollama": _ollama}

POLICY = """\
on_http_request:
  - name: no
    expressions: ["'x-deny' in req.headers"]
    actions: [{type: deny, config: {status_code: 403}}]
  - name: once
    expressions: ["'x-limit' in req.headers"]
    actions:
      - type: rate-limit
        config: {name: once, capacity: 1, rate: 24h, algorithm: fixed_window, bucket_key: ["req.headers['x-limit'][0]"]}
  - name: inside
    expressions: ["'x-internal' in req.headers"]
    actions: [{type: forward-internal, config: {url: "https://api.internal"}}]
""" + routed_policy(["DEAD"]).split("on_http_request:\n", 1)[1].replace(
    "    actions:", "    expressions: [\"!('x-proxy' in req.headers)\"]\n    actions:", 1) + """\
            - {id: ollama, base_url: "DEAD", api_keys: [{value: k-ol}], models: [{id: gpt-4o}]}
            - {id: cohere, base_url: "DEAD", api_keys: [{value: k-co}], models: [{id: gpt-4o}]}
            - {id: bedrock, base_url: "DEAD", api_keys: [{value: k-br}], models: [{id: gpt-4o}]}
"""


def _vendors(url: str) -> str:
    """A routing policy whose providers are one of each native API's vendor (by id), at ``url``:
    a native request is sent to its vendor only (routing/paths.py)."""
    return routed_policy([url]).replace("- {id: p0,", "- {id: ollama,") + "".join(
        f"""            - {{id: {v}, base_url: "{url}", api_keys: [{{value: k-{v}}}], models: [{{id: gpt-4o}}]}}\n"""
        for v in ("cohere", "bedrock"))


def _dead() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    return url


# (case, extra headers, model, status, aigw code)
CASES = [
    ("unknown key", {"authorization": "Bearer sk-nobody"}, "gpt-4o", 401, "invalid_api_key"),
    ("denied", {"x-deny": "1"}, "gpt-4o", 403, "policy_denied"),
    ("too large", {"x-big": "1"}, "gpt-4o", 413, "body_too_large"),
    ("rate limited", {"x-limit": "L", "x-proxy": "1"}, "gpt-4o", 429, "rate_limited"),
    ("route refused", {}, "no-such-model", 422, "ERR_NGROK_3804"),
    ("no inference (GET)", {"x-get": "1"}, "gpt-4o", 404, "unsupported_endpoint"),
    ("all failed", {}, "gpt-4o", 503, "ERR_NGROK_3807"),
    ("internal endpoint", {"x-internal": "1"}, "gpt-4o", 502, "internal_endpoint"),
]


def test_every_gateway_error_is_in_the_clients_shape() -> None:
    with ServerThread(StubProvider("up")) as up, \
            policy_gateway(POLICY.replace("DEAD", _dead()), KEY, upstream=up.url, max_body=4096) as gw:
        client = httpx.Client(base_url=gw.url, timeout=30)
        for n, (name, path, body) in enumerate(FORMATS):
            api = name.split("-")[0]
            for case, headers, model, status, code in CASES:
                sent = {**body, "model": model} if "model" in body else body
                if "x-big" in headers:
                    sent = {**sent, "pad": "x" * 8192}
                head = {"authorization": f"Bearer {KEY}", **headers}
                if "x-limit" in head:
                    head["x-limit"] = f"L{n}"
                    client.post(path.format(model=model), headers=head, json=sent)  # the one the limit lets through
                if "x-get" in head:
                    r = client.get(path.format(model=model), headers=head)
                else:
                    r = client.post(path.format(model=model), headers=head, json=sent)
                assert r.status_code == status, (name, case, r.text)
                assert SHAPES[api](r) == code, (name, case, r.text)
                if api == "bedrock":
                    assert r.headers["x-amzn-errortype"] == r.json()["__type"], (name, case)


GEMINI = """\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          only_allow_configured_providers: true
          providers:
            - {id: g, base_url: "URL", supported_api_surfaces: [{format: gemini}],
               api_keys: [{value: sk-gemini-shapes, id: k}], models: [{id: gemini-2.5-flash}]}
"""


def _cut_upstream(ctype: bytes, events: list[bytes]) -> Any:
    """An upstream whose stream sends ``events`` then the first half of one more, and is cut."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await lifespan(scope, receive, send):
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", ctype)]})
        for event in events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": events[-1][:len(events[-1]) // 2], "more_body": True})
        await asyncio.sleep(0.05)
        raise ConnectionAbortedError("the stream is cut")

    return app


def _aws(kind: str, payload: dict[str, Any]) -> bytes:
    return encode_message({":event-type": kind, ":message-type": "event", ":content-type": "application/json"},
                          json.dumps(payload).encode())


def _last_ndjson(data: bytes) -> dict[str, Any]:
    return json.loads(data.splitlines()[-1])  # type: ignore[no-any-return]


def _last_sse(data: bytes) -> tuple[str, dict[str, Any]]:
    event = data.rstrip(b"\n").split(b"\n\n")[-1].decode()
    fields = dict(line.split(": ", 1) for line in event.splitlines())
    return fields.get("event", ""), json.loads(fields["data"])


def _last_aws(data: bytes) -> tuple[str, dict[str, Any]]:
    parser = EventStreamParser()
    events = parser.feed(data) + parser.finish()
    assert parser.dropped == 0, "a message was cut or corrupted"
    kind, text = events[-1]
    return kind, json.loads(text)


def _gemini_array(data: bytes) -> bool:
    """A Gemini stream without alt=sse, cut: still one JSON array, its last element the error."""
    items = json.loads(data)
    return len(items) == 3 and items[-1]["error"]["status"] == "UNAVAILABLE"  # the two whole objects, the error


_GEMINI_OBJ = json.dumps({"candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"}}]},
                         indent=2).encode()

STREAMS = [
    ("ollama", "/api/chat", b"application/x-ndjson",
     [b'{"model":"gpt-4o","message":{"role":"assistant","content":"hi"},"done":false}\n'] * 2,
     lambda data: isinstance(_last_ndjson(data)["error"], str)),
    ("cohere-v2", "/v2/chat", b"text/event-stream",
     [b'event: message-start\ndata: {"type":"message-start"}\n\n',  # read on as an opening (first_event.py)
      b'event: content-delta\ndata: {"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"hi"}}}}\n\n'],
     lambda data: _last_sse(data)[0] == "message-end"
     and _last_sse(data)[1]["delta"]["finish_reason"] == "ERROR"),
    ("cohere-v1", "/v1/chat", b"application/stream+json",
     [b'{"is_finished":false,"event_type":"text-generation","text":"hi"}\n'] * 2,
     lambda data: _last_ndjson(data)["event_type"] == "stream-end"
     and _last_ndjson(data)["finish_reason"] == "ERROR"),
    ("bedrock", "/model/gpt-4o/converse-stream", b"application/vnd.amazon.eventstream",
     [_aws("messageStart", {"role": "assistant"}), _aws("contentBlockDelta", {"delta": {"text": "hi"}})],
     lambda data: _last_aws(data)[1]["type"] == "error"),
    ("gemini-array", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", b"application/json; charset=UTF-8",
     [b"[" + _GEMINI_OBJ, b",\r\n" + _GEMINI_OBJ], _gemini_array),
]


@pytest.mark.parametrize("name, path, ctype, events, ends_in_error", STREAMS, ids=[s[0] for s in STREAMS])
def test_a_cut_routed_stream_ends_in_its_own_framing(name: str, path: str, ctype: bytes, events: list[bytes],
                                                     ends_in_error: Callable[[bytes], bool]) -> None:
    gemini = name.startswith("gemini")
    body = {"contents": [{"parts": [{"text": "hi"}]}]} if gemini else {"model": "gpt-4o", "messages": MESSAGES,
                                                                      "stream": True}
    with ServerThread(_cut_upstream(ctype, events)) as up, \
            policy_gateway(GEMINI.replace("URL", up.url) if gemini else _vendors(up.url), KEY) as gw:
        data = b""
        with httpx.stream("POST", gw.url + path, headers={"authorization": f"Bearer {KEY}"}, timeout=30,
                          json=body) as r:
            assert r.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):  # the cut is not hidden: no end of the body
                for chunk in r.iter_raw():
                    data += chunk
    assert data.startswith(b"".join(events)), data
    assert ends_in_error(data), data
