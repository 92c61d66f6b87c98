"""serve18: an output cap given in two fields is read as the larger.

OpenAI's chat takes ``max_completion_tokens`` and the older ``max_tokens``; servers that speak
its format read one or the other (vLLM the first, TGI, LocalAI and older Ollama only
``max_tokens``), and the gateway's own Mistral dialect sends ``max_tokens`` when both are
given. The policy read the first present: ``{"max_completion_tokens": 10, "max_tokens":
100000}`` passed a ``max-tokens`` of 4096 in reject mode and reserved 10 tokens of a token
limit, while a server reading ``max_tokens`` produced 100,000. Bedrock's InvokeModel bodies
and Gemini's config had the same first-present read. The policy now reads the largest, the
most any server reading either field can produce (``n`` and ``best_of`` were already read so);
a clamp writes every field the body names.

Each row: the path, the body's cap fields, and the ``ai.max_output_tokens`` the policy reads.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import aigw_policy as ap

from .conftest import policy_gateway

MSGS = [{"role": "user", "content": "hi"}]
ROWS: list[tuple[str, str, dict[str, Any], int]] = [
    ("chat: max_completion_tokens first", "/v1/chat/completions",
     {"model": "gpt-4o", "messages": MSGS, "max_completion_tokens": 10, "max_tokens": 100_000}, 100_000),
    ("chat: max_tokens first", "/v1/chat/completions",
     {"model": "gpt-4o", "messages": MSGS, "max_tokens": 10, "max_completion_tokens": 100_000}, 100_000),
    ("chat: an odd shape (not the fast path)", "/v1/chat/completions",
     {"model": "gpt-4o", "messages": "hi", "max_completion_tokens": 10, "max_tokens": 100_000.0}, 100_000),
    ("chat: max_output_tokens beside", "/v1/chat/completions",
     {"model": "gpt-4o", "messages": MSGS, "max_completion_tokens": 10, "max_output_tokens": 50_000}, 50_000),
    ("legacy completions", "/v1/completions",
     {"model": "gpt-3.5-turbo-instruct", "prompt": "hi", "max_completion_tokens": 10, "max_tokens": 100_000}, 100_000),
    ("one field: itself", "/v1/chat/completions", {"model": "gpt-4o", "messages": MSGS, "max_tokens": 7}, 7),
    ("bedrock invoke: two families' caps", "/model/meta.llama3-70b-instruct-v1:0/invoke",
     {"prompt": "hi", "max_gen_len": 10, "max_tokens": 100_000}, 100_000),
    ("bedrock converse and a family's cap", "/model/amazon.nova-pro-v1:0/converse",
     {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 10},
      "max_tokens": 100_000}, 100_000),
]


@pytest.mark.parametrize(("path", "body", "read"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_policy_reads_the_largest_cap(path: str, body: dict[str, Any], read: int) -> None:
    engine = ap.Engine(ap.loads("on_http_request: []\n", format="yaml"))
    d = engine.evaluate({"id": "r1", "request": {"method": "POST", "url": f"https://gw.example{path}",
                                                 "headers": {"content-type": "application/json"}, "body": body}})
    assert d.ai["max_output_tokens"] == read


REJECT = """\
on_http_request:
  - name: size
    actions:
      - type: max-tokens
        config: {output: 4096, mode: reject}
"""


def test_a_reject_cap_is_not_passed_by_naming_the_cap_twice(stub: Any) -> None:
    body = {"model": "gpt-4o", "messages": MSGS, "max_completion_tokens": 10, "max_tokens": 100_000}
    before = len(stub.app.seen)
    with policy_gateway(REJECT, "sk-gw-caps", upstream=stub.url) as gw:
        r = httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-gw-caps"},
                       timeout=10)
    assert r.status_code == 413, r.text
    assert len(stub.app.seen) == before
