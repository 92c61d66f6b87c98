"""Forwarding an Attempt: URL, model in the body (Gemini: in the path), dropped params, merged
body/headers/query, auth style; the client's credential never goes upstream."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aigw_policy.routing.model import Attempt, KeyRef, ProviderInfo
from aigw_policy.routing.rewrite import join_url, upstream_request

OPENAI = ProviderInfo("openai", base_url="https://api.openai.com/v1", auth="bearer")
ANTHROPIC = ProviderInfo("anthropic", base_url="https://api.anthropic.com", formats=("anthropic",), auth="x-api-key")
GOOGLE = ProviderInfo("google", base_url="https://generativelanguage.googleapis.com", formats=("gemini",),
                      auth="x-goog-api-key")
LOCAL = ProviderInfo("local", base_url="http://127.0.0.1:9/", auth="none")
CLIENT_HEADERS = {"authorization": "Bearer sk-gw-client", "x-api-key": "sk-gw-client", "api-key": "sk-gw-client",
                  "x-goog-api-key": "sk-gw-client", "content-type": "application/json", "content-length": "99",
                  "host": "gw.local", "anthropic-version": "2023-06-01", "connection": "keep-alive, x-hop",
                  "x-hop": "1", "accept-encoding": "br", "x-trace": "t1"}


def attempt(provider: ProviderInfo = OPENAI, model: str = "gpt-4o-mini", fmt: str = "openai", **kw) -> Attempt:
    return Attempt(1, provider, model, KeyRef("k1", "${secrets.get('v', 'n')}", 0), fmt, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("base", "path", "url"), [
    ("https://api.openai.com/v1", "/v1/chat/completions", "https://api.openai.com/v1/chat/completions"),
    ("https://api.openai.com/v1/", "/v1/chat/completions", "https://api.openai.com/v1/chat/completions"),
    ("https://api.openai.com", "/v1/chat/completions", "https://api.openai.com/v1/chat/completions"),
    ("https://api.groq.com/openai/v1", "/v1/chat/completions", "https://api.groq.com/openai/v1/chat/completions"),
    ("https://g.example/v1beta", "/v1beta/models/x:generateContent", "https://g.example/v1beta/models/x:generateContent"),
    ("https://proxy.example/v1", "/v2/things", "https://proxy.example/v1/v2/things"),
    ("https://api.example/api", "/api/x", "https://api.example/api/api/x"),  # only versions are said once
])
def test_url(base: str, path: str, url: str) -> None:
    assert join_url(base, path) == url


@pytest.mark.parametrize(("base", "path", "url"), [
    # an OpenAI-format base URL as the OpenAI SDK takes it: the version in it, then the endpoint
    ("https://generativelanguage.googleapis.com/v1beta/openai/", "/v1/chat/completions",
     "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"),
    ("https://gateway.ai.cloudflare.com/v1/acct/gw/openai", "/v1/embeddings",
     "https://gateway.ai.cloudflare.com/v1/acct/gw/openai/embeddings"),
    ("https://api.groq.com/openai/v1", "/v1/chat/completions", "https://api.groq.com/openai/v1/chat/completions"),
    ("https://api.deepseek.com", "/v1/chat/completions", "https://api.deepseek.com/v1/chat/completions"),
    ("http://ollama.internal:11434", "/chat/completions", "http://ollama.internal:11434/chat/completions"),
    ("https://api.openai.com/v1", "/chat/completions", "https://api.openai.com/v1/chat/completions"),
])
def test_an_openai_format_attempt_goes_under_an_sdk_base_url(base: str, path: str, url: str) -> None:
    """Before (route21), the built-in ``google`` provider's OpenAI-format attempt went to
    ``/v1beta/openai/v1/chat/completions``, which Google does not serve (each attempt a 404)."""
    provider = ProviderInfo("p", base_url=base, auth="bearer")
    assert upstream_request("POST", path, b"", {}, b"{}", attempt(provider), "sk").url == url


@pytest.mark.parametrize(("base", "path", "url"), [
    # Google's base as ngrok's catalog writes it (its OpenAI-compatible frame): the native API is beside it
    ("https://generativelanguage.googleapis.com/v1beta/openai/", "/v1beta/models/gemini-2.0-flash:generateContent",
     "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent"),
    ("https://generativelanguage.googleapis.com/v1beta/openai", "/v1beta/models/gemini-2.0-flash:generateContent",
     "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent"),
    ("https://generativelanguage.googleapis.com/v1beta/openai/", "/v1beta/models/g:streamGenerateContent",
     "https://generativelanguage.googleapis.com/v1beta/models/m:streamGenerateContent"),
    ("https://proxy.example/google/v1beta/openai/", "/v1/models/g:countTokens",
     "https://proxy.example/google/v1beta/models/m:countTokens"),
    ("https://proxy.example/google/v1beta/openai/", "/v1/projects/p/locations/l/publishers/google/models/g:embedContent",
     "https://proxy.example/google/v1beta/models/m:embedContent"),
    # the native base as it is written (kept)
    ("https://generativelanguage.googleapis.com/v1beta/", "/v1beta/models/g:generateContent",
     "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent"),
    ("https://gateway.ai.cloudflare.com/v1/acct/gw/google-ai-studio/v1beta", "/v1beta/models/g:generateContent",
     "https://gateway.ai.cloudflare.com/v1/acct/gw/google-ai-studio/v1beta/models/m:generateContent"),
    ("https://g.example", "/v1beta/models/g:generateContent", "https://g.example/v1beta/models/m:generateContent"),
])
def test_a_gemini_attempt_goes_to_the_native_api_beside_an_openai_compatible_base(base: str, path: str,
                                                                                 url: str) -> None:
    """Before (route27), a provider whose ``base_url`` was Google's as ngrok's catalog gives it
    (``.../v1beta/openai/``) sent a native Gemini request (the google-genai SDK's) to
    ``.../v1beta/openai/v1beta/models/...``, which Google does not serve: each attempt a 404."""
    provider = ProviderInfo("google", base_url=base, formats=("openai", "gemini"), auth="x-goog-api-key")
    assert upstream_request("POST", path, b"", {}, b"{}", attempt(provider, "m", "gemini"), "sk").url == url


@pytest.mark.parametrize(("pid", "base", "url"), [
    # Google's native base (the genai SDK's): its OpenAI-compatible API is under `/v1beta/openai`
    ("google", "https://generativelanguage.googleapis.com/v1beta/", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"),
    ("google", "https://generativelanguage.googleapis.com/v1beta", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"),
    ("google", "https://generativelanguage.googleapis.com", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"),
    ("gem", "https://generativelanguage.googleapis.com/v1beta", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"),
    ("google", "https://proxy.example/google/v1beta", "https://proxy.example/google/v1beta/openai/chat/completions"),
    # as it is written when it is that frame already, or the provider is not Google's
    ("google", "https://generativelanguage.googleapis.com/v1beta/openai/", "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"),
    ("other", "https://proxy.example/v1beta", "https://proxy.example/v1beta/chat/completions"),
])
def test_an_openai_attempt_to_google_goes_to_its_openai_compatible_api(pid: str, base: str, url: str) -> None:
    """Before (route27), a Google provider whose ``base_url`` was its native one sent an
    OpenAI-format attempt (the OpenAI SDK's) to ``.../v1beta/chat/completions`` or
    ``.../v1/chat/completions``, which Google does not serve."""
    provider = ProviderInfo(pid, base_url=base, formats=("openai", "gemini"), auth="x-goog-api-key")
    assert upstream_request("POST", "/v1/chat/completions", b"", {}, b"{}", attempt(provider), "sk").url == url


def test_the_built_in_google_provider_s_openai_endpoint() -> None:
    from aigw_policy.routing.catalog import builtin

    google = next(p for p in builtin().providers if p.id == "google")
    assert upstream_request("POST", "/v1/chat/completions", b"", {}, b"{}", attempt(google), "sk").url == \
        "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"


def test_openai_body_headers_auth() -> None:
    body = {"model": "gpt-4o", "models": ["gpt-4o", "claude"], "messages": [], "logprobs": True,
            "metadata": {"a": 1, "b": 2}}
    a = attempt(drop_params=frozenset({"logprobs"}), headers={"x-extra": "e", "x-trace": "replaced"},
                query={"api-version": "2024"}, body={"metadata": {"b": 3, "c": 4}, "user": "u"})
    r = upstream_request("post", "/v1/chat/completions", b"key=sk-gw-client&x=1", CLIENT_HEADERS,
                         json.dumps(body).encode(), a, "sk-upstream")
    assert r.method == "POST"
    assert r.url == "https://api.openai.com/v1/chat/completions?x=1&api-version=2024"
    sent = json.loads(r.content)
    assert sent == {"model": "gpt-4o-mini", "messages": [], "metadata": {"a": 1, "b": 3, "c": 4}, "user": "u"}
    h = dict(r.headers)
    assert h["authorization"] == "Bearer sk-upstream"
    assert [k for k, _ in r.headers].count("authorization") == 1
    for gone in ("x-api-key", "api-key", "x-goog-api-key", "content-length", "host", "connection", "x-hop",
                 "accept-encoding"):
        assert gone not in h
    assert h["x-extra"] == "e" and h["x-trace"] == "replaced" and h["anthropic-version"] == "2023-06-01"
    assert "sk-gw-client" not in repr(r.headers) + r.url + r.content.decode()
    assert "sk-upstream" not in repr(r)


def test_anthropic_auth_style() -> None:
    a = attempt(ANTHROPIC, "claude-haiku-4", "anthropic")
    r = upstream_request("POST", "/v1/messages", "", CLIENT_HEADERS, b'{"model":"claude-opus-4","stream":true}', a, "sk-ant")
    h = dict(r.headers)
    assert h["x-api-key"] == "sk-ant" and "authorization" not in h
    assert r.url == "https://api.anthropic.com/v1/messages"
    assert json.loads(r.content) == {"model": "claude-haiku-4", "stream": True}


def test_gemini_model_in_path_and_key_query_stripped() -> None:
    a = attempt(GOOGLE, "gemini-2.5-flash", "gemini")
    r = upstream_request("POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent", b"alt=sse&key=sk-gw-client",
                         {"x-goog-api-key": "sk-gw-client"}, b'{"contents":[]}', a, "g-secret")
    assert r.url == ("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent"
                     "?alt=sse")
    assert dict(r.headers) == {"x-goog-api-key": "g-secret"}
    assert json.loads(r.content) == {"contents": []}


@pytest.mark.parametrize(("path", "body", "sent"), [
    ("/v1beta/models/text-embedding-004:batchEmbedContents",
     {"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}},
                   {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}}]},
     {"requests": [{"model": "models/m2", "content": {"parts": [{"text": "a"}]}},
                   {"model": "models/m2", "content": {"parts": [{"text": "b"}]}}]}),
    ("/v1beta/models/gemini-2.0-flash:countTokens",
     {"generateContentRequest": {"model": "models/gemini-2.0-flash", "contents": []}},
     {"generateContentRequest": {"model": "models/m2", "contents": []}}),
    ("/v1beta/models/gemini-2.0-flash:countTokens", {"contents": []}, {"contents": []}),  # none written: none set
    ("/v1beta/models/x:batchEmbedContents", {"requests": [{"content": {}}, 3]}, {"requests": [{"content": {}}, 3]}),
])
def test_the_requests_a_gemini_body_holds_name_the_attempt_s_model(path: str, body: dict, sent: dict) -> None:
    """Before (route27), a failover to another Gemini model rewrote the path's model only: a
    ``batchEmbedContents`` whose ``requests[]`` still named the client's was refused by Google
    (each must name the path's model), a ``countTokens`` counted for the client's model."""
    raw, parsed = json.dumps(body).encode(), json.loads(json.dumps(body))
    r = upstream_request("POST", path, b"", {}, raw, attempt(GOOGLE, "m2", "gemini"), "sk", parsed=parsed)
    assert json.loads(r.content) == sent and "/models/m2:" in r.url
    assert parsed == body  # the client's body, replayed for the next attempt, is as it came


def test_no_key_no_credential_and_attempt_headers_cannot_smuggle_one() -> None:
    a = attempt(LOCAL, headers={"Authorization": "Bearer from-config"})
    r = upstream_request("POST", "/v1/chat/completions", b"", CLIENT_HEADERS, b'{"model":"x"}', a, "unused")
    h = dict(r.headers)
    assert not {"authorization", "x-api-key", "api-key", "x-goog-api-key"} & h.keys()
    assert r.url == "http://127.0.0.1:9/v1/chat/completions"
    r = upstream_request("POST", "/v1/chat/completions", b"", CLIENT_HEADERS, b'{"model":"x"}', attempt(), None)
    assert "authorization" not in dict(r.headers)


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1,2]", b"\xff\xfe"])
def test_non_object_bodies_pass_as_they_are(raw: bytes) -> None:
    r = upstream_request("POST", "/v1/chat/completions", b"", {}, raw, attempt(), "s")
    assert r.content == raw


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers() | st.text(max_size=5), max_size=6),
       st.frozensets(st.text(min_size=1, max_size=8), max_size=4))
def test_body_properties(body: dict, drop: frozenset) -> None:
    a = attempt(drop_params=drop)
    sent = json.loads(upstream_request("POST", "/v1/chat/completions", b"", {}, json.dumps(body).encode(), a, "s").content)
    assert sent["model"] == "gpt-4o-mini"
    assert not (drop - {"model"}) & sent.keys()
    assert "models" not in sent
    assert {k: v for k, v in sent.items() if k != "model"} == {k: v for k, v in body.items()
                                                              if k not in drop and k not in ("model", "models")}


def test_passthrough_keeps_the_clients_credential_only_without_a_key() -> None:
    a = Attempt(1, OPENAI, "gpt-4o", None, "openai")
    r = upstream_request("POST", "/v1/chat/completions", b"key=k&x=1", {"authorization": "Bearer sk-client-own"},
                         b"{}", a, None, passthrough=True)
    assert dict(r.headers)["authorization"] == "Bearer sk-client-own" and r.url.endswith("?key=k&x=1")
    r = upstream_request("POST", "/v1/chat/completions", b"key=k", {"authorization": "Bearer sk-client-own"},
                         b"{}", attempt(), "sk-upstream", passthrough=True)  # a configured key wins
    assert dict(r.headers)["authorization"] == "Bearer sk-upstream" and "key=" not in r.url
    assert [k for k, _ in r.headers].count("authorization") == 1


MISTRAL = ProviderInfo("mistral", base_url="https://api.mistral.ai/v1", auth="bearer")
MISTRAL_CUSTOM = ProviderInfo("my-mistral", base_url="https://api.mistral.ai/v1", auth="bearer")


@pytest.mark.parametrize(("provider", "sent", "want"), [
    # Mistral refuses both (422 extra_forbidden): the usage chunk comes unasked, max_tokens is its cap
    (MISTRAL, {"stream": True, "stream_options": {"include_usage": True}, "max_completion_tokens": 64},
     {"stream": True, "max_tokens": 64}),
    (MISTRAL_CUSTOM, {"stream": True, "stream_options": {"include_usage": True}}, {"stream": True}),  # by its host
    (MISTRAL, {"max_completion_tokens": 64, "max_tokens": 32}, {"max_tokens": 32}),
    # OpenAI keeps both
    (OPENAI, {"stream": True, "stream_options": {"include_usage": True}, "max_completion_tokens": 64},
     {"stream": True, "stream_options": {"include_usage": True}, "max_completion_tokens": 64}),
])
def test_what_a_vendor_refuses_is_not_sent(provider: ProviderInfo, sent: dict[str, object],
                                           want: dict[str, object]) -> None:
    """The gateway adds `stream_options` to an OpenAI stream of the client's label and may have
    clamped `max_completion_tokens`; routed to Mistral, both were sent and refused (422)."""
    body = {"model": "gpt-4o", "messages": [], **sent}
    r = upstream_request("POST", "/v1/chat/completions", b"", {}, json.dumps(body).encode(),
                         attempt(provider, "mistral-large-latest"), "sk")
    assert json.loads(r.content) == {"model": "mistral-large-latest", "messages": [], **want}


@pytest.mark.parametrize(("provider", "kept"), [
    (OPENAI, False),
    (ProviderInfo("azure", base_url="https://llm.corp.example/openai"), True),  # by its id
    (ProviderInfo("eastus", aliases=("azure",), base_url="https://llm.corp.example/openai"), True),  # an alias
    (ProviderInfo("eastus", base_url="https://res.openai.azure.com/openai/v1"), True),  # its host
    (ProviderInfo("foundry", base_url="https://res.services.ai.azure.com/models"), True),
    (ProviderInfo("eastus", base_url="https://llm.corp.example/openai"), False),
])
def test_azures_api_version_goes_to_azure_only(provider: ProviderInfo, kept: bool) -> None:
    r = upstream_request("POST", "/openai/deployments/gpt-4o/chat/completions", b"api-version=2024-10-21&x=1",
                         CLIENT_HEADERS, b'{"messages": []}', attempt(provider), "sk-upstream")
    assert ("api-version=2024-10-21" in r.url) is kept, r.url
    assert r.url.endswith("x=1") or "x=1&" in r.url


@pytest.mark.parametrize(("base", "query", "url"), [
    # Azure's api-version written in base_url: it was glued before the path (`/v1?api-version=x/chat/...`)
    ("https://res.openai.azure.com/openai/v1?api-version=preview", b"",
     "https://res.openai.azure.com/openai/v1/chat/completions?api-version=preview"),
    ("https://res.openai.azure.com/openai/v1/?api-version=preview", b"x=1",
     "https://res.openai.azure.com/openai/v1/chat/completions?api-version=preview&x=1"),
    # the operator's name replaces the client's; a fragment is nobody's
    ("https://p.example/v1?tier=gold#frag", b"tier=free&y=2", "https://p.example/v1/chat/completions?tier=gold&y=2"),
    ("https://p.example/v1?", b"y=2", "https://p.example/v1/chat/completions?y=2"),
])
def test_a_query_in_base_url_goes_in_the_query(base: str, query: bytes, url: str) -> None:
    provider = ProviderInfo("p", base_url=base, auth="bearer")
    assert upstream_request("POST", "/v1/chat/completions", query, {}, b"{}", attempt(provider), "sk").url == url


def test_the_attempts_query_wins_over_base_urls() -> None:
    provider = ProviderInfo("p", base_url="https://p.example/v1?v=base&w=1", auth="bearer")
    r = upstream_request("POST", "/v1/chat/completions", b"v=client", {}, b"{}", attempt(provider, query={"v": "own"}),
                         "sk")
    assert r.url == "https://p.example/v1/chat/completions?w=1&v=own"


def _configured(formats: list[str], pid: str = "proxy") -> ProviderInfo:
    """A provider as a policy's config makes it (routing/compile.py), speaking ``formats``."""
    from aigw_policy.ir.ai_gateway import AiGateway
    from aigw_policy.routing.compile import compile_route

    route = compile_route(AiGateway.model_validate({"providers": [{
        "id": pid, "base_url": "http://proxy", "supported_api_surfaces": [{"format": f} for f in formats],
        "api_keys": [{"value": "sk-p", "id": "p1"}], "models": [{"id": "m"}]}]}))
    return route.providers[pid]


# (the formats a configured provider speaks, the attempt's format and path) -> the credential header sent:
# each format's own, as its SDK sends it (route29: one header for every format, the first one's:
# a proxy speaking OpenAI's and Anthropic's APIs got `authorization: Bearer` on `/v1/messages`,
# one speaking Gemini's first `x-goog-api-key` on `/v1/chat/completions`)
AUTH_BY_FORMAT = [
    (["openai", "anthropic"], "anthropic", "/v1/messages", ("x-api-key", "sk-p")),
    (["openai", "anthropic"], "openai", "/v1/chat/completions", ("authorization", "Bearer sk-p")),
    (["anthropic", "openai"], "openai", "/v1/chat/completions", ("authorization", "Bearer sk-p")),
    (["gemini", "openai"], "openai", "/v1/chat/completions", ("authorization", "Bearer sk-p")),
    (["openai", "gemini"], "gemini", "/v1beta/models/m:generateContent", ("x-goog-api-key", "sk-p")),
    (["anthropic"], "anthropic", "/v1/messages", ("x-api-key", "sk-p")),
]


@pytest.mark.parametrize(("formats", "fmt", "path", "header"), AUTH_BY_FORMAT)
def test_a_configured_provider_is_sent_each_formats_own_credential_header(formats: list[str], fmt: str, path: str,
                                                                          header: tuple[str, str]) -> None:
    provider = _configured(formats)
    a = Attempt(1, provider, "m", KeyRef("p1", "sk-p", 0), fmt)
    sent = dict(upstream_request("POST", path, b"", {}, b'{"model": "m"}', a, "sk-p").headers)
    credentials = {k: v for k, v in sent.items() if k in ("authorization", "x-api-key", "x-goog-api-key")}
    assert credentials == dict([header])


@pytest.mark.parametrize(("pid", "fmt", "path", "header"), [
    ("anthropic", "openai", "/v1/chat/completions", "x-api-key"),  # the catalog's word for its vendor's API
    ("google", "openai", "/v1/chat/completions", "x-goog-api-key"),
])
def test_a_built_in_provider_keeps_its_vendors_header(pid: str, fmt: str, path: str, header: str) -> None:
    provider = _configured(["anthropic", "openai"] if pid == "anthropic" else ["gemini", "openai"], pid)
    a = Attempt(1, provider, "m", KeyRef("p1", "sk-p", 0), fmt)
    sent = dict(upstream_request("POST", path, b"", {}, b'{"model": "m"}', a, "sk-p").headers)
    assert header in sent and "authorization" not in sent
