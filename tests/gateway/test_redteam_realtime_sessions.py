"""serve23: a Realtime session's model is judged where OpenAI reads it.

A WebRTC call (``POST /v1/realtime/calls``, the beta's ``POST /v1/realtime``) names its model in
the query beside an SDP offer, or in a multipart ``session`` field's JSON; an ephemeral client
secret (``POST /v1/realtime/client_secrets``) in its JSON body's ``session.model``. The policy
read none of them: a query's model with no body model was refused (so no WebRTC call could be
made through ``serve``), while ``session.model: o1`` passed a ``deny: [o1]`` in both other forms
and the session (its media, or the client's own connection with the secret) ran ``o1`` past the
gateway. Now that model is ``ai.model``: judged, denied or served; named twice differently, 400.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .conftest import ServerThread, policy_gateway
from .test_redteam_form_bodies import POLICY, Recorder

KEY = "sk-gw-realtime23"
SDP = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


def _session(model: str, **more: Any) -> bytes:
    return json.dumps({"type": "realtime", "model": model, **more}).encode()


def _call(session: bytes, name: bytes = b'name="session"') -> tuple[bytes, str]:
    body = (b'--rt\r\ncontent-disposition: form-data; name="sdp"\r\n\r\n' + SDP + b"\r\n"
            b"--rt\r\ncontent-disposition: form-data; " + name + b"\r\ncontent-type: application/json\r\n\r\n"
            + session + b"\r\n--rt--\r\n")
    return body, "multipart/form-data; boundary=rt"


ROWS = [
    # (case, path, body, content type, status, code)
    ("a call's query model, denied", "/v1/realtime/calls?model=o1", SDP, "application/sdp", 403, None),
    ("a call's query model, allowed", "/v1/realtime/calls?model=gpt-realtime", SDP, "application/sdp", 200, None),
    ("the beta's call, denied", "/v1/realtime?model=o1", SDP, "application/sdp", 403, None),
    ("a call's session field, denied", "/v1/realtime/calls", *_call(_session("o1")), 403, None),
    ("a call's session field, allowed", "/v1/realtime/calls", *_call(_session("gpt-realtime")), 200, None),
    ("a long session field, denied", "/v1/realtime/calls", *_call(_session("o1", instructions="x" * 20_000)),
     403, None),
    ("a session field spelt otherwise", "/v1/realtime/calls", *_call(_session("o1"), b"name=session"), 400,
     "unread_form_field"),
    ("a client secret's session, denied", "/v1/realtime/client_secrets",
     json.dumps({"session": {"type": "realtime", "model": "o1"}}).encode(), "application/json", 403, None),
    ("a client secret's session, allowed", "/v1/realtime/client_secrets",
     json.dumps({"session": {"type": "realtime", "model": "gpt-realtime"}}).encode(), "application/json", 200, None),
    ("query and session differ", "/v1/realtime/calls?model=gpt-realtime", *_call(_session("o1")), 400,
     "invalid_request"),
    ("the query names two", "/v1/realtime/calls?model=gpt-realtime&Model=o1", SDP, "application/sdp", 400,
     "invalid_request"),
]


@pytest.fixture(scope="module")
def gw() -> Any:
    rec = Recorder()
    with ServerThread(rec) as upstream, policy_gateway(POLICY, KEY, upstream=upstream.url) as server:
        server.rec = rec  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize(("path", "body", "ctype", "status", "code"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_realtime_sessions_model_is_judged(gw: Any, path: str, body: bytes, ctype: str, status: int,
                                             code: str | None) -> None:
    before = len(gw.rec.seen)
    r = httpx.post(f"{gw.url}{path}", content=body, timeout=30,
                   headers={"authorization": f"Bearer {KEY}", "content-type": ctype})
    assert r.status_code == status, r.text
    assert len(gw.rec.seen) == before + (status == 200)
    if code is not None:
        assert r.json()["error"]["code"] == code, r.text
    if status == 200:  # sent as it came
        assert gw.rec.seen[-1]["body"] == body and gw.rec.seen[-1]["query"] == path.partition("?")[2].encode()
