"""serve19: a model-access deny refuses every spelling an upstream may serve as the denied
model; an allow admits only the allowed model's own spellings (case and surrounding space).

``deny: [gpt-4o]`` matched case-sensitively and whole: ``GPT-4O`` (which routers, the
gateway's own routing catalog and Go servers fold), `` gpt-4o``, a router's
``openai/gpt-4o``, the routes' ``openai:gpt-4o`` and the snapshot ``gpt-4o-2024-08-06``
all went upstream. Each row: the policy's list, the model the client sends, the status.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from .conftest import ServerThread

KEY = "sk-gw-model-names"
DENY = ["gpt-4o", "claude-3-5-haiku"]
ALLOW = ["gpt-4o-mini", "anthropic/claude-*"]

ROWS = [
    ("deny", "gpt-4o", 403),
    ("deny", "GPT-4O", 403),
    ("deny", "Gpt-4o", 403),
    ("deny", " gpt-4o", 403),
    ("deny", "gpt-4o\t", 403),
    ("deny", "\u3000gpt-4o\u00a0", 403),
    ("deny", "openai/gpt-4o", 403),
    ("deny", "openai:GPT-4o", 403),
    ("deny", "openrouter/openai/gpt-4o", 403),
    ("deny", "gpt-4o-2024-08-06", 403),
    ("deny", "GPT-4O-2024-11-20", 403),
    ("deny", "claude-3-5-haiku-20241022", 403),
    ("deny", "claude-3-5-haiku@20241022", 403),
    ("deny", "claude-3-5-haiku-latest", 403),
    ("deny", "us.anthropic.claude-3-5-haiku-20241022-v1:0", 403),
    ("deny", "claude-3-5-hai\u212au", 403),  # the Kelvin sign folds to k (Go's EqualFold serves it)
    ("deny", "gpt-4o-mini", 200),  # another model
    ("deny", "gpt-4o-mini-2024-07-18", 200),
    ("deny", "gpt-4.1", 200),
    ("deny", "gpt-4\u043e", 200),  # a Cyrillic o: no upstream serves it as gpt-4o
    ("allow", "gpt-4o-mini", 200),
    ("allow", "GPT-4o-Mini", 200),
    ("allow", " gpt-4o-mini\n", 200),
    ("allow", "evil/gpt-4o-mini", 403),  # another provider's model of that name: an allow is not widened
    ("allow", "gpt-4o-mini-2024-07-18", 403),
    ("allow", "gpt-4o", 403),
    ("allow", "anthropic/claude-x", 200),  # named with its provider in the pattern
    ("allow", "openai/claude-x", 403),
]

POLICY = """\
on_http_request:
  - name: models
    actions: [{type: model-access, config: {LIST: PATTERNS}}]
"""


@pytest.fixture(scope="module")
def gws(stub: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A gateway per list: ``{"deny": ..., "allow": ...}``."""
    from aigw_policy.gateway import Gateway, load_keys

    d: Path = tmp_path_factory.mktemp("names")
    (d / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k-m}}\n")
    servers = {}
    for kind, patterns in (("deny", DENY), ("allow", ALLOW)):
        (d / f"{kind}.yaml").write_text(POLICY.replace("LIST", kind).replace("PATTERNS", json.dumps(patterns)))
        app = Gateway(policy=d / f"{kind}.yaml", upstream=stub.url, keys=load_keys(d / "keys.yaml"), watch=0)
        servers[kind] = ServerThread(app).__enter__()
    yield servers
    for server in servers.values():
        server.__exit__(None, None, None)


def _post(port: int, model: str) -> bytes:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n" + f"authorization: Bearer {KEY}\r\n".encode()
            + b"content-type: application/json\r\n" + f"content-length: {len(body)}\r\n".encode()
            + b"connection: close\r\n\r\n")
    answer = b""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(20)
        s.sendall(head + body)
        while chunk := s.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(("kind", "model", "status"), ROWS, ids=[f"{r[0]}-{r[1]!r}" for r in ROWS])
def test_one_spelling_of_a_model(gws: Any, stub: Any, kind: str, model: str, status: int) -> None:
    before = len(stub.app.seen)
    answer = _post(gws[kind].port, model)
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:400]
    assert len(stub.app.seen) == before + (status == 200)  # a refused model never goes upstream
