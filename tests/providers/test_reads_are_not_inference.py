"""A request that runs no model (a GET, HEAD or DELETE: reading a stored answer, listing, deleting)
is charged nothing, whatever its answer holds: ``GET /v1/responses/{id}`` returns the stored
response with the usage of the call that made it, charged then. Before, every such read was
charged that usage again (a poll of a background response, each time), listing stored chat
completions was a `chat` that reserved 4,096 output tokens (a token limit refused the read), and
a usd budget found no model to price."""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.providers import classify

POLICY = ap.loads('''policy { on request {
  rule "spend" { usage-cap { name: "spend", limit: 0.000001, unit: "usd", period: "day", bucket_key: [identity.key] } }
  rule "tpm" { token-limit { name: "tpm", capacity: 100, rate: 1m, bucket_key: [identity.key] } } } }''')
USAGE = {"input_tokens": 5000, "output_tokens": 5000, "total_tokens": 10000}
OPENAI = "https://api.openai.com/v1"


@pytest.mark.parametrize(("method", "url", "answer"), [
    ("GET", f"{OPENAI}/responses/resp_1", {"id": "resp_1", "object": "response", "model": "gpt-4o", "usage": USAGE}),
    ("GET", f"{OPENAI}/chat/completions/chatcmpl-1",
     {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
      "usage": {"prompt_tokens": 5000, "completion_tokens": 5000, "total_tokens": 10000}}),
    ("GET", f"{OPENAI}/chat/completions", {"object": "list", "data": [], "has_more": False}),
    ("GET", f"{OPENAI}/batches/batch_1", {"id": "batch_1", "object": "batch", "model": "gpt-4o", "usage": USAGE}),
    ("DELETE", f"{OPENAI}/responses/resp_1", {"id": "resp_1", "object": "response", "deleted": True}),
    ("HEAD", f"{OPENAI}/chat/completions", None),
])
def test_a_read_is_charged_nothing(method: str, url: str, answer: Any) -> None:
    ai = classify({"method": method, "url": url, "headers": {}})
    assert (ai.operation, ai.inference) == ("other", False)
    d = ap.Engine(POLICY).evaluate({"identity": {"key": "k"},
                                    "request": {"method": method, "url": url, "headers": {}, "body": None},
                                    "response": {"status_code": 200, "headers": {}, "body": answer}})
    assert d.verdict == "allow", d.reason
    assert d.usage is not None and d.usage["total_tokens"] == 0
    assert d.cost == {"usd": 0.0, "source": "not-billed", "reason": None, "model": None}
    assert [(entry["name"], entry["cost"]) for entry in d.limits] == [("spend", 0.0), ("tpm", 0.0)]


def test_the_call_itself_is_still_charged() -> None:
    roomy = ap.loads('policy { on request { rule "tpm" { token-limit { name: "tpm", capacity: 1_000_000, rate: 1m } } } }')
    d = ap.Engine(roomy).evaluate({"identity": {"key": "k"}, "request": {
        "method": "POST", "url": f"{OPENAI}/responses", "headers": {},
        "body": {"model": "gpt-4o", "input": "hi", "max_output_tokens": 10}},
        "response": {"status_code": 200, "headers": {}, "body": {"model": "gpt-4o", "usage": USAGE}}})
    assert d.usage is not None and d.usage["total_tokens"] == 10000 and d.cost is not None and d.cost["usd"] > 0
