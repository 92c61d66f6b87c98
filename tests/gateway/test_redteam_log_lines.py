"""serve18: a decision log line is one line to every reader.

The decision log is JSON written with ``ensure_ascii=False``, which escapes the control
characters but leaves U+2028, U+2029 and U+0085 (NEL) as they are: line breaks to Python's
``str.splitlines`` (the way this project's own tests read the log), to JavaScript before
ES2019 and to log viewers that follow Unicode. A model name is the client's own text, so
``"gpt-4o\\u2028{...}"`` wrote a second, forged record for such a reader. They are written as
``\\u2028`` escapes (only in a line that is not ASCII: an ASCII line is written as before).

Each row: a model name the client sends; its log line must be one line holding that name.
"""

from __future__ import annotations

import io
import json
import logging
import time
from typing import Any

import httpx
import pytest

from .conftest import policy_gateway

KEY = "sk-gw-log-lines"
FORGED = '{"aigw.verdict": "deny", "aigw.identity.key": "someone-else"}'
ROWS = [
    ("line separator", "gpt-4o\u2028" + FORGED),
    ("paragraph separator", "gpt-4o\u2029" + FORGED),
    ("next line (NEL)", "gpt-4o\u0085" + FORGED),
    ("all three, and other text", "modèle-\u2028-\u2029-\u0085-é"),
    ("ascii", "gpt-4o"),
]


@pytest.fixture(scope="module")
def gw(stub: Any) -> Any:
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    decisions = logging.getLogger("aigw_policy.gateway.decisions")
    decisions.addHandler(handler)
    level = decisions.level
    decisions.setLevel(logging.INFO)
    try:
        with policy_gateway("on_http_request: []\n", KEY, upstream=stub.url) as server:
            server.log = log  # type: ignore[attr-defined]
            yield server
    finally:
        decisions.removeHandler(handler)
        decisions.setLevel(level)


@pytest.mark.parametrize("model", [r[1] for r in ROWS], ids=[r[0] for r in ROWS])
def test_a_model_name_cannot_break_a_log_line(gw: Any, model: str) -> None:
    gw.log.seek(0)
    gw.log.truncate()
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                   headers={"authorization": f"Bearer {KEY}"}, timeout=10)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 10
    while "\n" not in gw.log.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = gw.log.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["gen_ai.request.model"] == model
