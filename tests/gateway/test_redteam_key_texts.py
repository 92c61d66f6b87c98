"""serve27: a gateway key a client writes where a model goes never reaches the decision log or
the ledger.

serve24 masked the keys file's keys in a logged path. A key sent as the model (``"model":
"sk-..."``, an SDK's arguments swapped, a key pasted in the wrong field) or as ``?model=`` was
written whole: the line's ``gen_ai.request.model``, a refusal's ``aigw.reason`` quoting it (a
query's model refused, a policy's ``deny`` message interpolating ``${ai.model}``) and the
ledger's ``gen_ai.request.model`` and ``aigw.reason``, which ``/v1/aigw/usage`` serves to the
admins; so were the usage endpoint's own refusals quoting an admin's query (``?by=sk-...``, a
key pasted as a parameter's name, ``?since=sk-...``). Each is now masked as the path is (every key of the keys file, its own or another
client's, as a word of the text).
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ledger_lines

KEY = "sk-gw-texts-1"
HASHED = "sk-gw-texts-hashed-2"  # listed in the keys file by its sha256 only
POLICY = '''policy "texts" {
  default allow

  on request {
    rule "served-models" {
      when !(ai.model in ["gpt-4o", "o1-mini"])
      deny 403 "model ${ai.model} is not served here"
    }
  }
}
'''


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread
    from .stub import StubUpstream

    d: Path = tmp_path_factory.mktemp("texts")
    (d / "policy.aigw").write_text(POLICY)
    digest = hashlib.sha256(HASHED.encode()).hexdigest()
    (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k1, team: red}}\n"
                                 f"  - sha256: {digest}\n    identity: {{key: k2, team: blue}}\nadmin_keys: [k1]\n")
    with ServerThread(StubUpstream()) as upstream:
        app = Gateway(policy=d / "policy.aigw", keys=load_keys(d / "keys.yaml"), store="memory:", watch=0,
                      upstream=upstream.url, ledger=f"jsonl:{d / 'usage.jsonl'}")
        with ServerThread(app, http=header_timeout_protocol(10.0, report=app.server_event)) as server:
            server.ledger = d / "usage.jsonl"  # type: ignore[attr-defined]
            yield server


def _post(port: int, body: bytes | None, target: bytes = b"/v1/chat/completions") -> tuple[bytes, str]:
    """The answer's status line and its request id (``body`` None: a GET)."""
    if body is None:
        data, body = b"GET " + target + b" HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode() \
            + b"\r\nconnection: close\r\n\r\n", b""
        return _answer(port, data)
    data = (b"POST " + target + b" HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer " + KEY.encode()
            + b"\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body))
    return _answer(port, data + body)


def _answer(port: int, data: bytes) -> tuple[bytes, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    head = out.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
    rid = head.split("x-aigw-decision-id: ", 1)[1].split("\r\n", 1)[0]
    return out.split(b"\r\n", 1)[0], rid


def _chat(model: str) -> bytes:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()


def _line(caplog: pytest.LogCaptureFixture, rid: str) -> str:
    """The request's decision line (written after the answer's last byte: waited for, 10 s at most)."""
    for _ in range(200):
        for rec in caplog.records:
            if rid in (message := rec.getMessage()) and '"url.path"' in message:
                return message
        time.sleep(0.05)
    return ""


def _final(path: Path, rid: str) -> dict[str, Any]:
    for _ in range(200):
        found = [r for r in ledger_lines(path) if r["aigw.request.id"] == rid and r["aigw.verdict"] != "pending"]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no final ledger record for {rid}")


CASES: list[tuple[str, Any, bytes, bool]] = [
    # (name, request of the key k: (body, target), status, recorded in the ledger)
    ("the body's model", lambda k: (_chat(k), b"/v1/chat/completions"), b"403", True),
    ("a model holding it", lambda k: (_chat(f"ft:gpt-4o:{k}"), b"/v1/chat/completions"), b"403", True),
    ("the query's model", lambda k: (_chat("gpt-4o"), b"/v1/chat/completions?model=" + k.encode()), b"400", False),
    # the usage endpoint's refusals quote what the admin's query says
    ("a usage group", lambda k: (None, b"/v1/aigw/usage?by=" + k.encode()), b"400", False),
    ("a usage parameter", lambda k: (None, b"/v1/aigw/usage?" + k.encode() + b"=1"), b"400", False),
    ("a usage since", lambda k: (None, b"/v1/aigw/usage?since=" + k.encode()), b"400", False),
]


@pytest.mark.parametrize("key", [KEY, HASHED], ids=["own key", "another client's (sha256 entry)"])
@pytest.mark.parametrize("make,status,ledgered", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_key_a_client_writes_is_masked_in_log_and_ledger(gw: Any, caplog: pytest.LogCaptureFixture, key: str, make: Any,
                                           status: bytes, ledgered: bool) -> None:
    body, target = make(key)
    own_in_body = key == KEY and body is not None and key.encode() in body
    if own_in_body:  # serve29: the client's own key in its body is refused before the policy (never sent)
        status, ledgered = b"400", False
    with caplog.at_level(logging.INFO, logger="aigw_policy"):
        line, rid = _post(gw.port, body, target)
        assert line.startswith(b"HTTP/1.1 " + status), line
        logged = _line(caplog, rid)
    assert logged and key not in logged and ("***" in logged or own_in_body), logged
    if ledgered:
        record = _final(gw.ledger, rid)
        assert key not in json.dumps(record) and "***" in record["gen_ai.request.model"], record


def test_a_model_that_is_no_key_is_logged_as_it_came(gw: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="aigw_policy"):
        line, rid = _post(gw.port, _chat("gpt-4o-2024-08-06-custom"))
        assert line.startswith(b"HTTP/1.1 403"), line
        logged = _line(caplog, rid)
    assert '"gen_ai.request.model": "gpt-4o-2024-08-06-custom"' in logged, logged
    assert _final(gw.ledger, rid)["gen_ai.request.model"] == "gpt-4o-2024-08-06-custom"
