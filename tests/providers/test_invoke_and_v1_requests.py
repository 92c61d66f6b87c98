"""What a request's body says before it is sent, for the wire formats read by their own shape:
Bedrock InvokeModel's model families and Cohere's v1 (and rerank) bodies. Their prompt is
counted (it was 0 tokens before: the keys were OpenAI's), their output cap read (a policy's
``max-tokens`` saw none), and none of them gets OpenAI's ``stream_options``."""

from __future__ import annotations

from typing import Any

import pytest

from aigw_policy.providers import classify, inject_include_usage

AWS = "https://bedrock-runtime.us-east-1.amazonaws.com/model/"


# (url, body, operation, max_output_tokens, messages, the prompt's text)
ROWS: list[tuple[str, dict[str, Any], str, int | None, int, str]] = [
    (AWS + "meta.llama3-70b-instruct-v1:0/invoke-with-response-stream",
     {"prompt": "Tell me a joke", "max_gen_len": 256}, "chat", 256, 1, "Tell me a joke"),
    (AWS + "amazon.titan-text-premier-v1:0/invoke",
     {"inputText": "Tell me a joke", "textGenerationConfig": {"maxTokenCount": 300}}, "chat", 300, 1, "Tell me a joke"),
    (AWS + "amazon.titan-embed-text-v2:0/invoke", {"inputText": "Tell me a joke"}, "embeddings", None, 1,
     "Tell me a joke"),
    (AWS + "cohere.embed-english-v3/invoke", {"texts": ["a joke", "another"], "input_type": "search_document"},
     "embeddings", None, 2, "a joke\nanother"),
    (AWS + "us.amazon.nova-pro-v1:0/invoke",
     {"system": [{"text": "Be funny."}], "messages": [{"role": "user", "content": [{"text": "Tell me a joke"}]}],
      "inferenceConfig": {"max_new_tokens": 128}}, "chat", 128, 1, "Be funny.\nTell me a joke"),
    (AWS + "mistral.mistral-large-2402-v1:0/invoke", {"prompt": "<s>[INST] Tell me a joke [/INST]", "max_tokens": 99},
     "chat", 99, 1, "<s>[INST] Tell me a joke [/INST]"),
    (AWS + "cohere.command-r-plus-v1:0/invoke",
     {"message": "Tell me a joke", "preamble": "Be funny.", "chat_history": [{"role": "USER", "message": "Hi"}],
      "max_tokens": 50}, "chat", 50, 2, "Be funny.\nTell me a joke\nHi"),
    (AWS + "openai.gpt-oss-120b-1:0/invoke",
     {"messages": [{"role": "user", "content": "Tell me a joke"}], "max_completion_tokens": 70}, "chat", 70, 1,
     "Tell me a joke"),
    ("https://api.cohere.com/v1/chat",
     {"model": "command-r", "message": "Tell me a joke", "preamble": "Be funny.",
      "chat_history": [{"role": "USER", "message": "Hi"}, {"role": "CHATBOT", "message": "Hello!"}], "stream": True},
     "chat", None, 3, "Be funny.\nTell me a joke\nHi\nHello!"),
    ("https://api.cohere.com/v2/rerank",
     {"model": "rerank-v3.5", "query": "capital?", "documents": ["Paris is one.", {"text": "Rome too."}]},
     "other", None, 3, "capital?\nParis is one.\nRome too."),
]


@pytest.mark.parametrize(("url", "body", "op", "cap", "messages", "prompt"), ROWS, ids=[r[0].rsplit("/", 2)[-2]
                                                                                       for r in ROWS])
def test_the_request_is_read_in_its_own_shape(url: str, body: dict[str, Any], op: str, cap: int | None,
                                              messages: int, prompt: str) -> None:
    ai = classify({"url": url, "body": body})
    assert (ai.operation, ai.max_output_tokens, ai.messages, ai.prompt) == (op, cap, messages, prompt)
    assert ai.input_tokens > 0 and not ai.problems
    assert ai.api in ("bedrock", "cohere")
    streamed = classify({"url": url, "body": {**body, "stream": True}})
    assert inject_include_usage(streamed, body) == (body, False)


def test_a_bad_invoke_cap_is_a_problem_never_ignored() -> None:
    ai = classify({"url": AWS + "meta.llama3-70b-instruct-v1:0/invoke", "body": {"prompt": "x", "max_gen_len": "9"}})
    assert ai.problems == (("request.body.max_gen_len", "must be a whole number from 0 to 2^53-1, not a string"),)


@pytest.mark.parametrize(("url", "provider"), [
    ("https://api.cohere.ai/compatibility/v1/chat/completions", "cohere"),  # its clients are told to unset it
    ("https://api.mistral.ai/v1/chat/completions", "mistral"),  # 422 extra_forbidden; the usage comes unasked
])
def test_an_api_that_refuses_stream_options_is_never_given_it(url: str, provider: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    ai = classify({"url": url, "body": body})
    assert (ai.provider, ai.api) == (provider, "openai")
    assert inject_include_usage(ai, body) == (body, False)
