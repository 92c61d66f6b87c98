"""serve22: a model (or a stream flag) the upstream reads where the policy did not.

A body that is no JSON passed to the policy as text, its `multipart/form-data` fields read by
``providers.forms`` (the first 64 KiB, a field's first copy, ``name="..."`` quoted exactly) and
an ``application/x-www-form-urlencoded`` body not at all; the query string was never read. An
upstream reads each of them its own way: Starlette (vLLM's and LiteLLM's transcriptions) takes
a form field's last copy and an unquoted ``name=model``, Go's ``FormValue`` the first, routers
of the one-api family take a urlencoded body's ``model`` and the query's ``?model=``. So a
``model-access`` deny of ``o1`` let ``o1`` through in every one of these forms (each probed
through ``serve`` first, tests/gateway/ raw sockets). Now such a body or query is 400
``unread_form_field`` / ``invalid_request`` before the policy runs, and nothing goes upstream.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway

KEY = "sk-gw-forms22"
POLICY = """\
on_http_request:
  - name: deny-o1
    actions:
      - type: model-access
        config: {deny: [o1]}
"""
FILE = (b'content-disposition: form-data; name="file"; filename="a.wav"\r\ncontent-type: audio/wav', b"RIFF....WAVE")


class Recorder:
    """An upstream that keeps each request's path, query and raw body and answers 200 JSON."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            m = await receive()
            body += m.get("body", b"")
            if not m.get("more_body"):
                break
        self.seen.append({"path": scope["path"], "query": scope["query_string"], "body": body})
        answer: dict[str, Any] = {"text": "ok"}
        if scope["path"] == "/v1/chat/completions":
            answer = {"id": "c", "object": "chat.completion", "model": "gpt-4o", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        out = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": out})


@pytest.fixture(scope="module")
def gw() -> Any:
    rec = Recorder()
    with ServerThread(rec) as upstream, policy_gateway(POLICY, KEY, upstream=upstream.url) as server:
        server.rec = rec  # type: ignore[attr-defined]
        yield server


def _multipart(parts: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(b"--xyz\r\n" + head + b"\r\n\r\n" + value + b"\r\n" for head, value in parts) + b"--xyz--\r\n"


def _post(gw: Any, path: str, body: bytes, ctype: str) -> httpx.Response:
    return httpx.post(f"{gw.url}{path}", content=body, timeout=30,
                      headers={"authorization": f"Bearer {KEY}", "content-type": ctype})


def _model(value: bytes, head: bytes = b'content-disposition: form-data; name="model"') -> tuple[bytes, bytes]:
    return head, value


MULTIPART_REFUSED = {
    # Starlette keeps a field's last copy, Go's FormValue its first
    "model twice": [_model(b"whisper-1"), _model(b"o1"), FILE],
    # an unquoted parameter is read by python-multipart (Starlette) and Go's mime package
    "unquoted name": [_model(b"o1", b"content-disposition: form-data; name=model"), FILE],
    "RFC 5987 name": [_model(b"o1", b"content-disposition: form-data; name*=UTF-8''model"), FILE],
    "name in another case": [_model(b"o1", b'content-disposition: form-data; name="Model"'), FILE],
    # the policy's reader looks at the first 64 KiB only
    "model after a large file": [(FILE[0], b"A" * 70_000), _model(b"o1")],
    "model as a file": [_model(b"o1", b'content-disposition: form-data; name="model"; filename=""'), FILE],
    # a `name` parameter on another field of the part: the policy's reader took it for the part's name
    "a decoy name before the real one": [
        (b'content-type: text/plain; name="model"\r\ncontent-disposition: form-data; name="prompt"', b"gpt-4o-mini"),
        _model(b"o1"), FILE],
    # FastAPI reads "1" / "yes" / "on" as true: the policy saw no stream
    "stream not true or false": [_model(b"whisper-1"), _model(b"1", b'content-disposition: form-data; name="stream"'),
                                 FILE],
}


@pytest.mark.parametrize("case", sorted(MULTIPART_REFUSED))
def test_a_multipart_field_the_policy_did_not_read_as_sent_is_refused(gw: Any, case: str) -> None:
    before = len(gw.rec.seen)
    r = _post(gw, "/v1/audio/transcriptions", _multipart(MULTIPART_REFUSED[case]), "multipart/form-data; boundary=xyz")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "unread_form_field", r.text
    assert len(gw.rec.seen) == before


def test_a_multipart_body_as_the_sdks_send_it_is_judged_and_served(gw: Any) -> None:
    denied = _post(gw, "/v1/audio/transcriptions", _multipart([_model(b"o1"), FILE]), "multipart/form-data; boundary=xyz")
    assert denied.status_code == 403, denied.text
    before = len(gw.rec.seen)
    parts = [_model(b"whisper-1"), (b'content-disposition: form-data; name="language"', b"en"),
             _model(b"false", b'content-disposition: form-data; name="stream"'), (FILE[0], b"A" * 70_000)]
    r = _post(gw, "/v1/audio/transcriptions", _multipart(parts), "multipart/form-data; boundary=xyz")
    assert r.status_code == 200, r.text
    assert len(gw.rec.seen) == before + 1 and b"whisper-1" in gw.rec.seen[-1]["body"]


URLENCODED_REFUSED = ["model=o1&prompt=hi", "prompt=hi&Model=o1", "model%5B%5D=o1", "max_tokens=100000&x=1",
                      "stream=true"]


@pytest.mark.parametrize("body", URLENCODED_REFUSED)
def test_a_urlencoded_form_naming_a_field_the_policy_reads_is_refused(gw: Any, body: str) -> None:
    before = len(gw.rec.seen)
    r = _post(gw, "/v1/completions", body.encode(), "application/x-www-form-urlencoded")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "unread_form_field", r.text
    assert len(gw.rec.seen) == before


def test_a_urlencoded_form_of_other_fields_passes(gw: Any) -> None:
    before = len(gw.rec.seen)
    r = _post(gw, "/v1/feedback", b"rating=5&comment=fine", "application/x-www-form-urlencoded")
    assert r.status_code == 200, r.text
    assert gw.rec.seen[before:] and gw.rec.seen[-1]["body"] == b"rating=5&comment=fine"


CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("query", ["model=o1", "x=1&Model=o1", "model%5B%5D=o1", "model=gpt-4o&model=o1", "model="])
def test_a_query_model_other_than_the_body_s_is_refused(gw: Any, query: str) -> None:
    before = len(gw.rec.seen)
    r = _post(gw, f"/v1/chat/completions?{query}", json.dumps(CHAT).encode(), "application/json")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_request" and "request.query.model" in r.text, r.text
    assert len(gw.rec.seen) == before


def test_a_query_model_with_no_model_in_the_body_is_refused(gw: Any) -> None:
    """(A Realtime call's query model is its model: tests/gateway/test_redteam_realtime_sessions.py.)"""
    r = _post(gw, "/v1/embeddings?model=o1", json.dumps({"input": "hi"}).encode(), "application/json")
    assert r.status_code == 400 and "request.query.model" in r.text, r.text


@pytest.mark.parametrize("path", ["/v1/chat/completions?model=gpt-4o", "/v1/chat/completions?modelx=o1&api-version=1"])
def test_a_query_naming_the_body_s_model_or_none_passes(gw: Any, path: str) -> None:
    before = len(gw.rec.seen)
    r = _post(gw, path, json.dumps(CHAT).encode(), "application/json")
    assert r.status_code == 200, r.text
    assert len(gw.rec.seen) == before + 1


def test_a_read_may_name_a_model_in_its_query(gw: Any) -> None:
    r = httpx.get(f"{gw.url}/v1/models?model=o1", headers={"authorization": f"Bearer {KEY}"}, timeout=30)
    assert r.status_code == 200, r.text


def test_a_query_model_is_compared_with_a_multipart_body_s_model(gw: Any) -> None:
    body = _multipart([_model(b"whisper-1"), FILE])
    same = _post(gw, "/v1/audio/transcriptions?model=whisper-1", body, "multipart/form-data; boundary=xyz")
    assert same.status_code == 200, same.text
    other = _post(gw, "/v1/audio/transcriptions?model=o1", body, "multipart/form-data; boundary=xyz")
    assert other.status_code == 400 and "request.query.model" in other.text, other.text


@pytest.mark.parametrize("ctypes", [["MULTIPART/FORM-DATA; BOUNDARY=xyz"], ["text/plain", "multipart/form-data; boundary=xyz"],
                                    ["application/octet-stream", "multipart/form-data; boundary=xyz"]])
def test_a_form_is_judged_whatever_case_or_second_content_type_says_it(gw: Any, ctypes: list[str]) -> None:
    """Two ``Content-Type`` fields come joined (``text/plain, multipart/form-data; ...``);
    upstreams differ on which one they take, so the form is judged if any of them says it."""
    before = len(gw.rec.seen)
    headers = [("authorization", f"Bearer {KEY}")] + [("content-type", c) for c in ctypes]
    r = httpx.post(f"{gw.url}/v1/audio/transcriptions", timeout=30, headers=headers,
                   content=_multipart(MULTIPART_REFUSED["model twice"]))
    assert r.status_code == 400 and r.json()["error"]["code"] == "unread_form_field", r.text
    assert len(gw.rec.seen) == before
