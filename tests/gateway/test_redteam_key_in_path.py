"""serve23: a request path holding the gateway key the client authenticated with is refused.

serve21 dropped every header and query parameter holding the key; the path was not looked at,
so ``POST /v1/chat/completions/sk-gw-...`` went upstream as it came and its decision log line
wrote the key whole (``url.path``). Now such a request is 400 ``invalid_path`` before its body
is read, nothing goes upstream, and its log line says the path with the key masked.
"""

from __future__ import annotations

import logging
from base64 import b64encode, urlsafe_b64encode
from typing import Any

import httpx
import pytest

from aigw_policy.gateway.key_forms import key_forms

KEY = "sk-gw-sales"
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("path", [f"/v1/chat/completions/{KEY}", f"/v1/{KEY}/chat/completions",
                                  "/v1/chat/completions/sk-gw-%73ales", f"/v1/x-{KEY}-y",
                                  # serve28: in another encoding (the logged path had these whole)
                                  f"/v1/chat/completions/{urlsafe_b64encode(KEY.encode()).decode()}",
                                  f"/v1/{b64encode(b'ab' + KEY.encode()).decode().rstrip('=')}/chat",
                                  f"/v1/chat/completions/{KEY.encode().hex()}", "/v1/chat/sk-gw-%2573ales"])
def test_a_path_holding_the_key_is_refused_and_never_logged(gateway: Any, stub: Any, caplog: pytest.LogCaptureFixture,
                                                            path: str) -> None:
    before = len(stub.app.seen)
    with caplog.at_level(logging.DEBUG, logger="aigw_policy"):
        r = httpx.post(f"{gateway.url}{path}", json=CHAT, headers={"authorization": f"Bearer {KEY}"}, timeout=30)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_path", r.text
    assert len(stub.app.seen) == before
    assert KEY not in r.text
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert KEY not in logged and "***" in logged
    assert not [f for f in key_forms(KEY) if f in logged or f in r.text]


def test_a_path_holding_another_word_passes(gateway: Any, stub: Any) -> None:
    r = httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {KEY}"},
                   timeout=30)
    assert r.status_code == 200, r.text
