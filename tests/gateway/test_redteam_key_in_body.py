"""serve29: a request body holding the gateway key the client authenticated with is refused.

serve21-28 kept the key out of every header, the query and the path; a body holding it (a
config file pasted into a prompt, an SDK's settings echoed into a JSON field, a form field)
went upstream as sent, so the provider, its logs and its training-data retention held the
gateway key. Now such a request is 400 ``key_in_body`` in the provider's error shape before the
policy decides (nothing charged, nothing sent), in every form ``key_forms`` knows that a byte
search finds (as written, base64 either alphabet and alignment, hex), percent-encoded in a
``x-www-form-urlencoded`` body (which the upstream decodes), and in a UTF-16 or UTF-32 JSON
body's text.
"""

from __future__ import annotations

import json
import logging
from base64 import b64encode, urlsafe_b64encode
from typing import Any

import httpx
import pytest

from aigw_policy.gateway.key_forms import key_forms

KEY = "sk-gw-sales"


def _chat(text: str) -> bytes:
    return json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}).encode()


MULTIPART = (b"--b\r\ncontent-disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b\r\n"
             b"content-disposition: form-data; name=\"prompt\"\r\n\r\nmy key is " + KEY.encode() + b"\r\n--b--\r\n")
REFUSED = [  # (content type, body)
    ("application/json", _chat(f"why does {KEY} not work?")),
    ("application/json", _chat(f"OPENAI_API_KEY={KEY}\nOPENAI_BASE_URL=http://gw")),
    ("application/json", json.dumps({"model": "gpt-4o", "metadata": {"k": KEY}, "messages": []}).encode()),
    ("application/json", _chat("auth: Basic " + b64encode(b"user:" + KEY.encode()).decode())),
    ("application/json", _chat("secret: " + b64encode(KEY.encode()).decode())),
    ("application/json", _chat("token=" + urlsafe_b64encode(b"ab" + KEY.encode()).decode())),
    ("application/json", _chat("hex " + KEY.encode().hex())),
    ("application/json", _chat("HEX " + KEY.encode().hex().upper())),
    ("text/plain", f"plain {KEY}".encode()),
    ("application/x-www-form-urlencoded", b"model=gpt-4o&note=sk-gw-%73ales"),
    ("application/x-www-form-urlencoded", b"note=sk-gw-%2573ales"),
    ("multipart/form-data; boundary=b", MULTIPART),
    ("application/json; charset=utf-16", _chat(f"key {KEY}").decode().encode("utf-16")),
    ("application/json", _chat(f"key {KEY}").decode().encode("utf-32-le")),
]
PASSED = [
    ("application/json", _chat("sk-gw-sale is not a key")),
    ("application/json", _chat("sk-gw-%73ales in JSON is text, not an encoding")),
    ("application/json", _chat("hi")),
]


@pytest.mark.parametrize(("ctype", "body"), REFUSED, ids=[f"refused{i}" for i in range(len(REFUSED))])
def test_a_body_holding_the_key_is_refused_and_never_sent(gateway: Any, stub: Any, caplog: pytest.LogCaptureFixture,
                                                          ctype: str, body: bytes) -> None:
    before = len(stub.app.seen)
    with caplog.at_level(logging.DEBUG, logger="aigw_policy"):
        r = httpx.post(f"{gateway.url}/v1/chat/completions", content=body, timeout=30,
                       headers={"authorization": f"Bearer {KEY}", "content-type": ctype})
    assert r.status_code == 400 and r.json()["error"]["code"] == "key_in_body", r.text
    assert len(stub.app.seen) == before
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert not [f for f in key_forms(KEY) if f in logged or f in r.text]


@pytest.mark.parametrize(("ctype", "body"), PASSED, ids=[f"passed{i}" for i in range(len(PASSED))])
def test_a_body_without_the_key_passes(gateway: Any, stub: Any, ctype: str, body: bytes) -> None:
    r = httpx.post(f"{gateway.url}/v1/chat/completions", content=body, timeout=30,
                   headers={"authorization": f"Bearer {KEY}", "content-type": ctype})
    assert r.status_code == 200, r.text


def test_a_chunked_body_holding_the_key_split_across_chunks_is_refused(gateway: Any, stub: Any) -> None:
    body = _chat(f"the key {KEY} again")
    cut = body.index(KEY.encode()) + 4
    before = len(stub.app.seen)
    r = httpx.post(f"{gateway.url}/v1/chat/completions", content=iter([body[:cut], body[cut:]]), timeout=30,
                   headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "key_in_body", r.text
    assert len(stub.app.seen) == before
