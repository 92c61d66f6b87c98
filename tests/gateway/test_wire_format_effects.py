"""What the gateway writes into a forwarded body follows the request's wire format
(``Decision.api``), never its provider label: the label names who serves and bills a request,
the wire format what its body holds.

Before, the label picked it: Claude on Vertex AI (label ``vertex_ai``, Gemini's) had its clamp
written as ``generationConfig.maxOutputTokens`` into an Anthropic body (refused: unknown field),
Gemini's and Vertex AI's OpenAI-compatible endpoints had theirs written the same way and no
``stream_options.include_usage`` (their streams' usage was estimated), and Bedrock InvokeModel of
a Llama, Titan or Nova model had OpenAI's ``max_completion_tokens`` written (refused by Bedrock).
Each row goes through the middleware in-process; the recording app is the upstream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.gateway.effects import decision_api, wants_usage
from aigw_policy.gateway.middleware import PolicyMiddleware

POLICY = 'policy { on request { rule "clamp" { max-tokens { output: 64, mode: "clamp" } } } }'
USER = [{"role": "user", "content": "hi"}]
VERTEX = "/v1/projects/p/locations/us-east5/publishers"
BEDROCK = "bedrock-runtime.us-east-1.amazonaws.com"


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[Any] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(json.loads(raw))
        body = b"{}"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": body})


def forwarded(host: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    app = Recorder()
    mw = PolicyMiddleware(app, ap.Engine(ap.loads(POLICY)))

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mw), base_url=f"http://{host}") as client:
            r = await client.post(path, json=body)
            assert r.status_code == 200, r.text

    asyncio.run(go())
    assert len(app.bodies) == 1
    return app.bodies[0]  # type: ignore[no-any-return]


# (host, path, body sent, body forwarded)
ROWS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # Claude on Vertex AI: Anthropic's body (was: generationConfig.maxOutputTokens, refused)
    ("us-east5-aiplatform.googleapis.com", f"{VERTEX}/anthropic/models/claude-sonnet-4-5:rawPredict",
     {"anthropic_version": "vertex-2023-10-16", "max_tokens": 4096, "messages": USER},
     {"anthropic_version": "vertex-2023-10-16", "max_tokens": 64, "messages": USER}),
    # Gemini's OpenAI-compatible endpoint: OpenAI's field and the usage chunk asked for
    ("generativelanguage.googleapis.com", "/v1beta/openai/chat/completions",
     {"model": "gemini-2.5-flash", "messages": USER, "stream": True, "max_tokens": 4096},
     {"model": "gemini-2.5-flash", "messages": USER, "stream": True, "max_tokens": 64,
      "stream_options": {"include_usage": True}}),
    # Vertex AI's OpenAI-compatible endpoint (Gemini, or a partner model)
    ("us-central1-aiplatform.googleapis.com", "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions",
     {"model": "google/gemini-2.5-flash", "messages": USER, "stream": True},
     {"model": "google/gemini-2.5-flash", "messages": USER, "stream": True, "max_tokens": 64,
      "stream_options": {"include_usage": True}}),
    # native Gemini: its own field, never stream_options
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
     {"contents": [{"parts": [{"text": "hi"}]}]},
     {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 64}}),
    # Gemini's snake_case config (proto JSON takes both names): written there, not beside it as a second config
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:generateContent",
     {"contents": [{"parts": [{"text": "hi"}]}], "generation_config": {"max_output_tokens": 4096, "temperature": 0}},
     {"contents": [{"parts": [{"text": "hi"}]}], "generation_config": {"max_output_tokens": 64, "temperature": 0}}),
    # Bedrock InvokeModel: each family's own field (was: max_completion_tokens, refused)
    (BEDROCK, "/model/meta.llama3-8b-instruct-v1:0/invoke-with-response-stream",
     {"prompt": "hi", "max_gen_len": 2048}, {"prompt": "hi", "max_gen_len": 64}),
    (BEDROCK, "/model/meta.llama3-8b-instruct-v1:0/invoke", {"prompt": "hi"}, {"prompt": "hi", "max_gen_len": 64}),
    (BEDROCK, "/model/amazon.titan-text-express-v1/invoke",
     {"inputText": "hi", "textGenerationConfig": {"maxTokenCount": 4096, "temperature": 0}},
     {"inputText": "hi", "textGenerationConfig": {"maxTokenCount": 64, "temperature": 0}}),
    (BEDROCK, "/model/us.amazon.nova-lite-v1:0/invoke",
     {"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
     {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"max_new_tokens": 64}}),
    (BEDROCK, "/model/mistral.mistral-7b-instruct-v0:2/invoke", {"prompt": "hi", "max_tokens": 500},
     {"prompt": "hi", "max_tokens": 64}),
    (BEDROCK, "/model/anthropic.claude-3-haiku-20240307-v1:0/invoke",
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 4096, "messages": USER},
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": USER}),
    # an embedding model has no output to cap: nothing written (an unknown field is refused)
    (BEDROCK, "/model/amazon.titan-embed-text-v2:0/invoke", {"inputText": "hi"}, {"inputText": "hi"}),
    ("api.openai.com", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"},
     {"model": "text-embedding-3-small", "input": "hi"}),
    # Cohere's Compatibility API refuses stream_options: OpenAI's field, no usage chunk asked for
    ("api.cohere.ai", "/compatibility/v1/chat/completions",
     {"model": "command-a-03-2025", "messages": USER, "stream": True},
     {"model": "command-a-03-2025", "messages": USER, "stream": True, "max_tokens": 64}),
    # Mistral on Vertex AI: an OpenAI-shaped body to `:rawPredict`, no OpenAI endpoint: no stream_options
    ("europe-west4-aiplatform.googleapis.com", f"{VERTEX}/mistralai/models/mistral-large-2411:streamRawPredict",
     {"model": "mistral-large-2411", "messages": USER, "stream": True},
     {"model": "mistral-large-2411", "messages": USER, "stream": True, "max_tokens": 64}),
    # Anthropic's OpenAI SDK compatibility endpoint: OpenAI's wire format at Anthropic's host
    ("api.anthropic.com", "/v1/chat/completions", {"model": "claude-sonnet-4-5", "messages": USER, "stream": True},
     {"model": "claude-sonnet-4-5", "messages": USER, "stream": True, "max_tokens": 64,
      "stream_options": {"include_usage": True}}),
    # Mistral's API refuses stream_options and max_completion_tokens (422 extra_forbidden); it sends
    # the usage unasked. Before: both were written, and every streamed or clamped request failed
    ("api.mistral.ai", "/v1/chat/completions", {"model": "mistral-large-latest", "messages": USER, "stream": True},
     {"model": "mistral-large-latest", "messages": USER, "stream": True, "max_tokens": 64}),
    # OpenAI's own: max_completion_tokens (its reasoning models refuse max_tokens) unless the body names max_tokens
    ("api.openai.com", "/v1/chat/completions", {"model": "o4-mini", "messages": USER},
     {"model": "o4-mini", "messages": USER, "max_completion_tokens": 64}),
    ("api.openai.com", "/v1/chat/completions", {"model": "gpt-4o", "messages": USER, "max_tokens": 900},
     {"model": "gpt-4o", "messages": USER, "max_tokens": 64}),
    ("api.openai.com", "/v1/chat/completions",
     {"model": "gpt-4o", "messages": USER, "max_tokens": 900, "max_completion_tokens": 900},
     {"model": "gpt-4o", "messages": USER, "max_tokens": 64, "max_completion_tokens": 64}),
    # every other vendor: max_tokens, the field they all read
    ("api.deepseek.com", "/chat/completions", {"model": "deepseek-chat", "messages": USER},
     {"model": "deepseek-chat", "messages": USER, "max_tokens": 64}),
    # Ollama's native API behind its own port
    ("localhost:11434", "/api/chat", {"model": "llama3", "messages": USER},
     {"model": "llama3", "messages": USER, "options": {"num_predict": 64}}),
]


@pytest.mark.parametrize(("host", "path", "sent", "want"), ROWS, ids=[f"{r[0]}{r[1]}" for r in ROWS])
def test_the_forwarded_body_follows_the_wire_format(host: str, path: str, sent: dict[str, Any],
                                                    want: dict[str, Any]) -> None:
    assert forwarded(host, path, sent) == want


class _Bare:
    """A decision without ``api`` (an embedder's own): the label's usual wire format."""

    ai = {"provider": "anthropic", "stream": True, "operation": "messages"}


def test_a_decision_without_api_falls_back_to_the_label() -> None:
    assert decision_api(_Bare()) == "anthropic"
    assert not wants_usage(_Bare.ai, {}, decision_api(_Bare()), "/v1/messages")


def test_cohere_v1_s_stream_type_is_a_stream() -> None:
    """Cohere v1's `stream: true` answers `application/stream+json` (a JSON object a line): passed
    on as it arrives, not held whole as a JSON answer (the client saw nothing until the end)."""
    from aigw_policy.gateway.captured import streamed

    assert streamed("application/stream+json", 200, "/v1/chat")
    assert not streamed("application/json", 200, "/v1/chat")


class PathRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[tuple[str, bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.paths.append((scope["path"], scope["raw_path"]))
        await super().__call__(scope, receive, send)


@pytest.mark.parametrize(("host", "path", "body", "to", "want_path", "want_raw"), [
    # Bedrock: the model id in the path (before: left as it was, the upstream billed the old model)
    (BEDROCK, "/model/anthropic.claude-3-5-sonnet-20241022-v2:0/converse",
     {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}, "anthropic.claude-3-5-haiku-20241022-v1:0",
     "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse", b"/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse"),
    (BEDROCK, "/model/meta.llama3-70b-instruct-v1%3A0/invoke", {"prompt": "hi"}, "meta.llama3-8b-instruct-v1:0",
     "/model/meta.llama3-8b-instruct-v1:0/invoke", b"/model/meta.llama3-8b-instruct-v1:0/invoke"),
    # Gemini and Claude on Vertex AI, as before
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:generateContent",
     {"contents": [{"parts": [{"text": "hi"}]}]}, "gemini-2.5-flash",
     "/v1beta/models/gemini-2.5-flash:generateContent", b"/v1beta/models/gemini-2.5-flash:generateContent"),
    ("us-east5-aiplatform.googleapis.com", f"{VERTEX}/anthropic/models/claude-sonnet-4-5:rawPredict",
     {"anthropic_version": "vertex-2023-10-16", "max_tokens": 10, "messages": USER}, "claude-haiku-4-5",
     f"{VERTEX}/anthropic/models/claude-haiku-4-5:rawPredict", f"{VERTEX}/anthropic/models/claude-haiku-4-5:rawPredict".encode()),
])
def test_set_model_writes_the_model_where_the_path_names_it(host: str, path: str, body: dict[str, Any], to: str,
                                                             want_path: str, want_raw: bytes) -> None:
    app = PathRecorder()
    mw = PolicyMiddleware(app, ap.Engine(ap.loads(f'policy {{ on request {{ rule "m" {{ set-model "{to}" }} }} }}')))

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mw), base_url=f"http://{host}") as client:
            r = await client.post(path, json=body)
            assert r.status_code == 200, r.text

    asyncio.run(go())
    assert app.paths == [(want_path, want_raw)]


_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                       lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
                           st.sampled_from(["max_tokens", "max_completion_tokens", "max_gen_len", "inferenceConfig",
                                            "textGenerationConfig", "maxTokenCount", "max_new_tokens", "maxTokens",
                                            "generationConfig", "options", "messages"]), kids, max_size=4),
                       max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(api=st.sampled_from(["openai", "anthropic", "gemini", "ollama", "cohere", "bedrock", "unknown"]),
       operation=st.sampled_from(["chat", "completion", "responses", "messages", "embeddings", "other"]),
       path=st.sampled_from(["/v1/chat/completions", "/model/meta.llama3-8b-instruct-v1%3A0/invoke",
                             "/model/amazon.titan-embed-text-v2:0/invoke", "/model/x/converse", "/model//invoke", "/"]),
       body=st.dictionaries(st.sampled_from(["max_tokens", "max_completion_tokens", "max_gen_len", "inferenceConfig",
                                             "textGenerationConfig", "generationConfig", "options"]), _values,
                            max_size=4),
       provider=st.sampled_from([None, "openai", "mistral", "bedrock"]))
def test_the_clamp_never_raises_and_caps_what_it_writes(api: str, operation: str, path: str, body: dict[str, Any],
                                                        provider: str | None) -> None:
    from aigw_policy.gateway.effects import set_max_tokens

    before = json.dumps(body, sort_keys=True)
    set_max_tokens(body, api, operation, path, 7, provider)
    if operation in ("other", "embeddings"):
        assert json.dumps(body, sort_keys=True) == before  # no cap to write there
