"""serve24: a gateway key in a request's path never reaches the decision log, whoever sent it.

serve23 refused a path holding the key its client authenticated with, and logged that path
masked. Every other request wrote its path whole: one refused before a key was looked at (a
401 for a missing or other key, TRACE, a 505, an encoded dot, a bad Host) or by the server
protocol (framing, 431), and one authenticated with one key whose path holds another's. A
client whose base URL holds its key (``https://gw/sk-.../v1``) put a valid key into the
operator's log with every such request. Now the decision log masks every key of the keys file
(``key:`` and ``sha256:`` entries alike) that is a path segment, or a part of one between
``;`` ``,`` ``=`` ``&`` ``:`` ``@``, percent-escaped or not, and says at most 256 characters
of a path (a 60 KiB path was a 60 KiB log line).
"""

from __future__ import annotations

import hashlib
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

KEY = "sk-gw-logged-1"
HASHED = "sk-gw-hashed-2"  # listed in the keys file by its sha256 only
CHAT = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}'


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from aigw_policy.gateway import Gateway, load_keys
    from aigw_policy.gateway.server import header_timeout_protocol

    from .conftest import ServerThread
    from .stub import StubUpstream

    d: Path = tmp_path_factory.mktemp("logged")
    (d / "policy.yaml").write_text("on_http_request: []\n")
    digest = hashlib.sha256(HASHED.encode()).hexdigest()
    (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k1, team: red}}\n"
                                 f"  - sha256: {digest}\n    identity: {{key: k2, team: blue}}\n")
    with ServerThread(StubUpstream()) as upstream:
        app = Gateway(policy=d / "policy.yaml", keys=load_keys(d / "keys.yaml"), store="memory:", watch=0,
                      upstream=upstream.url)
        with ServerThread(app, http=header_timeout_protocol(10.0, report=app.server_event)) as server:
            yield server


def _send(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        out = b""
        s.settimeout(5)
        try:
            while chunk := s.recv(65536):
                out += chunk
                if b"\r\n\r\n" in out and out.rstrip().endswith(b"}"):
                    break
        except TimeoutError:
            pass
    return out


def _post(target: bytes, auth: bytes | None = None, extra: bytes = b"", method: bytes = b"POST",
          version: bytes = b"HTTP/1.1") -> bytes:
    head = method + b" " + target + b" " + version + b"\r\nhost: gw\r\ncontent-type: application/json\r\n"
    if auth is not None:
        head += b"authorization: Bearer " + auth + b"\r\n"
    return head + extra + b"content-length: %d\r\n\r\n" % len(CHAT) + CHAT


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    """The log so far, once a decision line is in it: the server writes it after the answer's
    last byte, so on a busy machine the client can read the answer first (waited for, at most
    10 s; an absent line still fails the assertions that follow)."""
    for _ in range(200):
        logged = "\n".join(rec.getMessage() for rec in caplog.records)
        if '"url.path"' in logged:
            return logged
        time.sleep(0.05)
    return logged


# (name, request bytes of the key k at the path, status): each refused (or served) before or
# beside the key check that serve23 masked the path at
CASES: list[tuple[str, Any, bytes]] = [
    ("no credential", lambda k: _post(b"/v1/" + k + b"/chat/completions"), b"401"),
    ("another credential", lambda k: _post(b"/" + k + b"/v1/chat/completions", b"sk-not-a-key-at-all"), b"401"),
    ("escaped", lambda k: _post(b"/v1/%" + b"%02X" % k[0] + k[1:] + b"/chat/completions"), b"401"),
    ("a segment's part", lambda k: _post(b"/v1/chat/completions;key=" + k), b"400"),
    ("after a colon", lambda k: _post(b"/v1beta/models/x:" + k), b"401"),
    ("trace", lambda k: _post(b"/v1/" + k, method=b"TRACE"), b"405"),
    ("http/2.0 line", lambda k: _post(b"/v1/" + k, version=b"HTTP/2.0"), b"505"),
    ("encoded dot", lambda k: _post(b"/v1/" + k + b"/%2e%2e/chat/completions"), b"400"),
    ("framing", lambda k: _post(b"/v1/" + k, extra=b"transfer-encoding: chunked\r\n"), b"400"),
    ("header count", lambda k: _post(b"/v1/" + k, extra=b"".join(b"x-%d: 1\r\n" % i for i in range(120))), b"431"),
    ("metrics", lambda k: _post(b"/metrics/" + k, method=b"GET"), b"401"),
]


@pytest.mark.parametrize("key", [KEY, HASHED], ids=["key entry", "sha256 entry"])
@pytest.mark.parametrize("make,status", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_a_key_in_the_path_is_masked_in_the_log(gw: Any, caplog: pytest.LogCaptureFixture, key: str, make: Any,
                                                status: bytes) -> None:
    with caplog.at_level(logging.INFO, logger="aigw_policy"):
        out = _send(gw.port, make(key.encode()))
    assert out.startswith(b"HTTP/1.1 " + status), out[:300]
    logged = _logged(caplog)
    assert '"url.path"' in logged, logged
    assert key not in logged and key[1:] not in logged, logged
    assert "***" in logged


def test_another_clients_key_in_an_authenticated_path_is_masked(gw: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Authenticated with one key, a path holding another's: served as before (the path is the
    client's to choose), the other key masked in the log."""
    with caplog.at_level(logging.INFO, logger="aigw_policy"):
        out = _send(gw.port, _post(b"/v1/chat/completions/" + HASHED.encode(), KEY.encode()))
    assert out.startswith(b"HTTP/1.1 "), out[:300]
    logged = _logged(caplog)
    assert HASHED not in logged and "/v1/chat/completions/***" in logged, logged


def test_a_logged_path_is_bounded(gw: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="aigw_policy.gateway.decisions"):
        out = _send(gw.port, _post(b"/v1/chat/" + b"z" * 60_000, KEY.encode()))
    assert out.startswith(b"HTTP/1.1 "), out[:300]
    lines = [line for line in _logged(caplog).split("\n") if '"url.path"' in line]
    assert lines and all(len(line) < 4096 for line in lines), [len(line) for line in lines]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models/gpt-4o", "/v1/projects/p-12345678/locations/x"])
def test_other_paths_are_logged_as_they_came(gw: Any, caplog: pytest.LogCaptureFixture, path: str) -> None:
    with caplog.at_level(logging.INFO, logger="aigw_policy.gateway.decisions"):
        _send(gw.port, _post(path.encode(), KEY.encode()))
    assert any(f'"url.path": "{path}"' in rec.getMessage() for rec in caplog.records), caplog.text
