"""The ``max-tokens`` clamp writes the field the request's own API reads: Bedrock Converse's
``inferenceConfig.maxTokens``, Cohere's ``max_tokens``, nothing for endpoints without an output
cap (an images or transcription request, where an unknown field is refused)."""

from __future__ import annotations

import pytest

from aigw_policy.gateway.effects import set_max_tokens


@pytest.mark.parametrize(("api", "operation", "path", "body", "want"), [  # api: Decision.api, the wire format
    ("bedrock", "chat", "/model/amazon.nova-pro-v1%3A0/converse", {"inferenceConfig": {"maxTokens": 4000, "topP": 1}},
     {"inferenceConfig": {"maxTokens": 512, "topP": 1}}),
    ("bedrock", "chat", "/model/m/converse-stream", {}, {"inferenceConfig": {"maxTokens": 512}}),
    ("anthropic", "messages", "/model/anthropic.claude-x/invoke", {"max_tokens": 4000}, {"max_tokens": 512}),
    ("cohere", "chat", "/v2/chat", {"model": "command-a-03-2025"}, {"model": "command-a-03-2025", "max_tokens": 512}),
    ("openai", "other", "/v1/images/generations", {"model": "gpt-image-1", "prompt": "x"},
     {"model": "gpt-image-1", "prompt": "x"}),
    ("openai", "other", "/v1/audio/speech", {"model": "tts-1", "input": "x"}, {"model": "tts-1", "input": "x"}),
])
def test_the_clamp_writes_the_api_s_own_field(api: str, operation: str, path: str, body: dict[str, object],
                                              want: dict[str, object]) -> None:
    set_max_tokens(body, api, operation, path, 512)
    assert body == want
