"""A Bedrock inference profile is served and priced as itself (``usage.profiled``).

Claude's answers through InvokeModel (JSON and stream) name the model without the profile of
the path (``claude-opus-4-5-20251101`` for ``global.anthropic.claude-opus-4-5-20251101-v1:0``):
priced by that name, a ``global.`` profile cost the regional price, 10% above. The payloads
(and their cost by hand) are ``data/spec/bedrock/invoke_*global_profile*``; this is the rule's table.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw_policy.providers import Usage, classify, extract_usage
from aigw_policy.providers.usage import profiled

ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5"
ROWS = [
    # requested (the path), served (the answer's `model`), what the usage is served as
    ("global.anthropic.claude-opus-4-5-20251101-v1:0", "claude-opus-4-5-20251101",
     "global.anthropic.claude-opus-4-5-20251101-v1:0"),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929",
     "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet-20250219",
     "anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001",
     "global.anthropic.claude-haiku-4-5-20251001-v1:0"),
    # an application profile's ARN holds no model name: the answer says what ran
    (ARN, "claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
    # another model than the path's (a name the path does not hold after a dot): the answer's
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001"),
    ("my.claude-sonnet-4-5x", "sonnet-4-5", "sonnet-4-5"),
    # no name in the answer (Converse): the request's, as before
    ("global.anthropic.claude-opus-4-5-20251101-v1:0", None, None),
    (None, "claude-opus-4-5-20251101", "claude-opus-4-5-20251101"),
]


@pytest.mark.parametrize(("requested", "served", "want"), ROWS)
def test_a_profile_is_served_as_itself(requested: str | None, served: str | None, want: str | None) -> None:
    usage = Usage.of(10, 5, model=served)
    got = profiled(usage, requested)
    assert got.model == want
    assert (got.input_tokens, got.output_tokens) == (10, 5)


MANTLE = "https://bedrock-mantle.us-east-1.api.aws/v1/chat/completions"


def _mantle_answers(served: str) -> list[dict[str, Any]]:
    usage = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    body = {"id": "chatcmpl-1", "object": "chat.completion", "model": served, "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}], "usage": usage}
    chunks = [{"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": served,
               "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]},
              {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": served, "choices": [], "usage": usage}]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    headers = {"content-type": "application/json", "x-amzn-bedrock-service-tier": "flex"}
    return [{"status_code": 200, "headers": headers, "body": body},
            {"status_code": 200, "headers": {**headers, "content-type": "text/event-stream"}, "sse": sse}]


@pytest.mark.parametrize("served", ["gpt-oss-120b", "openai.gpt-oss-120b", "qwen3-32b"])
def test_an_answer_of_bedrocks_openai_host_reads_the_same_as_json_and_stream(served: str) -> None:
    """The JSON answer took the OpenAI fast path, which skipped what a Bedrock answer is read
    with (its profile, its tier header); its stream did not: the two disagreed."""
    ai = classify({"method": "POST", "url": MANTLE, "headers": {"content-type": "application/json"},
                   "body": {"model": "openai.gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}})
    whole, streamed = (extract_usage(ai, answer) for answer in _mantle_answers(served))
    assert (whole.model, whole.service_tier, whole.input_tokens, whole.output_tokens) == (
        streamed.model, streamed.service_tier, streamed.input_tokens, streamed.output_tokens)
    assert whole.service_tier == "flex"
    assert whole.model == (served if served == "qwen3-32b" else "openai.gpt-oss-120b")
