"""Upstream credentials are per provider: no upstream ever sees another provider's key, and
no client credential ever goes upstream when the gateway authenticates clients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from aigw_policy.gateway import Gateway
from aigw_policy.gateway.keys import KeysError, parse_keys
from aigw_policy.gateway.proxy import upstream_api

from .conftest import ServerThread
from .providers_stub import StubProvider
from .stub import StubUpstream

SECRETS = {"openai": "sk-openai-SECRET", "anthropic": "sk-ant-SECRET", "gemini": "AIza-gemini-SECRET"}
CLIENT_SECRETS = ("client-x-api-key", "client-goog", "client-azure", "client-query")
KEYS = f'''keys:
  - key: sk-gw-1
    identity: {{key: k1, team: t}}
upstream_auth:
  openai: {{authorization: "Bearer {SECRETS['openai']}", openai-organization: org-1}}
  anthropic: {{x-api-key: "{SECRETS['anthropic']}"}}
  gemini: {{x-goog-api-key: "{SECRETS['gemini']}"}}
'''
MSG = [{"role": "user", "content": "hi"}]
REQUESTS = {
    "openai": ("/v1/chat/completions", {"model": "gpt-4o", "messages": MSG}),
    "anthropic": ("/v1/messages", {"model": "claude-sonnet-4", "max_tokens": 10, "messages": MSG}),
    "gemini": ("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("credentials")
    (d / "p.aigw").write_text('policy "c" { default allow }')
    (d / "keys.yaml").write_text(KEYS)
    return d


def run(files: Path, provider: str | None, api: str, client_auth: str,
        extra: dict[str, str] | None = None, request: tuple[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """One request through a gateway in front of the stub (which answers all three APIs);
    the client sends its gateway key in ``client_auth`` and other secrets in every other
    credential header and in ``?key=``. Returns what the upstream saw."""
    from aigw_policy.gateway import load_keys

    stub: Any = StubUpstream() if request is None else StubProvider("p")  # (this one answers any path)
    with ServerThread(stub) as up:
        app = Gateway(policy=files / "p.aigw", upstream=up.url, keys=load_keys(files / "keys.yaml"),
                      provider=provider, timeout=5.0, watch=0)
        with ServerThread(app) as gw:
            path, body = request or REQUESTS[api]
            # the gateway key where the client puts it; other secrets in the headers read after it
            order = ["authorization", "x-api-key", "x-goog-api-key"]
            headers = {"x-api-key": "client-x-api-key", "x-goog-api-key": "client-goog", "api-key": "client-azure"}
            for name in order[:order.index(client_auth)]:
                headers.pop(name, None)
            headers[client_auth] = "sk-gw-1" if client_auth != "authorization" else "Bearer sk-gw-1"
            headers.update(extra or {})
            r = httpx.post(gw.url + path, params={"key": "client-query"}, json=body, headers=headers, timeout=10)
            assert r.status_code == 200, r.text
    assert len(stub.seen) == 1
    return stub.seen[0]


def secrets_in(seen: dict[str, Any]) -> set[str]:
    text = repr(seen["headers"]) + seen["query"]
    return {name for name, secret in SECRETS.items() if secret in text}


@pytest.mark.parametrize("client_auth", ["authorization", "x-api-key", "x-goog-api-key"])
@pytest.mark.parametrize("api", sorted(REQUESTS))
def test_each_request_carries_only_its_providers_key(files: Path, api: str, client_auth: str) -> None:
    seen = run(files, None, api, client_auth)  # a router upstream (unknown host): per request
    assert secrets_in(seen) == {api}
    own = {"openai": ("authorization", f"Bearer {SECRETS['openai']}"), "anthropic": ("x-api-key", SECRETS["anthropic"]),
           "gemini": ("x-goog-api-key", SECRETS["gemini"])}[api]
    assert seen["headers"][own[0]] == own[1]
    text = repr(seen["headers"]) + seen["query"]
    assert not [s for s in (*CLIENT_SECRETS, "sk-gw-1") if s in text]  # no client credential
    assert "api-key" not in seen["headers"]
    assert ("openai-organization" in seen["headers"]) == (api == "openai")


# the wire formats with no upstream_auth entry of their own: OpenAI's, as every other request's
OTHERS = {"bedrock": ("/model/gpt-4o/converse", {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
          "cohere": ("/v2/chat", {"model": "command-r", "messages": MSG}),
          "ollama": ("/api/chat", {"model": "llama3", "messages": MSG})}


@pytest.mark.parametrize("wire", sorted(OTHERS))
def test_a_request_of_another_format_carries_openais_key(files: Path, wire: str) -> None:
    seen = run(files, None, "openai", "authorization", request=OTHERS[wire])  # a router upstream
    assert secrets_in(seen) == {"openai"}


@pytest.mark.parametrize("api", sorted(REQUESTS))
def test_a_pinned_upstream_never_sees_another_providers_key(files: Path, api: str) -> None:
    # --provider openai (or --upstream https://api.openai.com): an Anthropic- or Gemini-shaped
    # request is forwarded without credentials rather than with the other provider's key
    seen = run(files, "openai", api, "authorization")
    assert secrets_in(seen) == {"openai"}


@pytest.mark.parametrize("header", [{"anthropic-version": "2023-06-01"}, {"x-aigw-provider": "anthropic"}])
def test_a_client_header_does_not_choose_whose_key_goes(files: Path, header: dict[str, str]) -> None:
    # a router upstream routes /v1/chat/completions to OpenAI: it must not carry the Anthropic key
    seen = run(files, None, "openai", "authorization", header)
    assert secrets_in(seen) == {"openai"}


def test_upstream_api_from_the_host() -> None:
    assert upstream_api("https://api.openai.com") == "openai"
    assert upstream_api("https://API.Anthropic.com./v1") == "anthropic"
    assert upstream_api("https://generativelanguage.googleapis.com") == "gemini"
    assert upstream_api("https://acme.openai.azure.com/openai") == "openai"
    assert upstream_api("https://api.openai.com.evil.example") is None
    assert upstream_api("http://127.0.0.1:8000", "vllm") == "openai"
    assert upstream_api("https://api.openai.com", "anthropic") == "anthropic"  # --provider wins


def test_the_old_flat_shape_with_one_provider_still_reads() -> None:
    ring = parse_keys("keys: []\nupstream_auth: {x-api-key: k, anthropic-beta: b}", env={})
    assert ring.upstream_auth == {"anthropic": {"x-api-key": "k", "anthropic-beta": "b"}}
    ring = parse_keys("keys: []\nupstream_auth: {authorization: Bearer k}", env={})
    assert ring.upstream_auth == {"openai": {"authorization": "Bearer k"}}


def test_the_old_flat_shape_with_several_providers_is_refused() -> None:
    # the documented example that sent `x-api-key: sk-ant-...` to OpenAI
    text = 'keys: []\nupstream_auth:\n  authorization: "Bearer sk-openai"\n  x-api-key: "sk-ant"\n'
    with pytest.raises(KeysError) as caught:
        parse_keys(text, name="keys.yaml", env={})
    (d,) = caught.value.diagnostics
    assert d.code == "AIGW605" and str(d.span) == "keys.yaml:3:3"
    assert "every upstream would receive all of them" in d.message
    assert "openai: {authorization:" in (d.help or "")


@pytest.mark.parametrize(("query", "kept"), [
    ("k%65y=sk-gw-sales&alt=sse", "alt=sse"),      # the upstream decodes names: `key=` to it
    ("%6Bey=sk-gw-sales", ""),
    ("key=sk-gw-sales&x=1%202", "x=1%202"),        # the other pairs go as the client wrote them
    ("alt=sse", "alt=sse"),
])
def test_the_authenticating_query_key_never_reaches_the_upstream(query: str, kept: str) -> None:
    from aigw_policy.gateway.effects import strip_key
    from aigw_policy.gateway.keys import key_from

    assert key_from({}, query) in (None, "sk-gw-sales")
    assert strip_key(query) == kept


# -- what the operator's credential is lent for ---------------------------------------------
# It went with every request the policy allowed: a gateway key could list the organization's
# files and stored completions, start batches (billed, never seen by limits or the ledger) and
# fine-tunes, or mint a Realtime client secret that talks to the provider directly. It now goes
# with inference requests and model-list reads only; anything else goes without it.

LENT = [("POST", "/v1/chat/completions", True), ("POST", "/v1/responses", True), ("POST", "/v1/embeddings", True),
        ("POST", "/v1/images/generations", True), ("POST", "/v1/messages", True),
        ("POST", "/v1beta/models/gemini-2.5-flash:generateContent", True),
        ("GET", "/v1/models", True), ("GET", "/v1/models/gpt-4o", True), ("GET", "/v1beta/models", True),
        ("GET", "/v1/files", False), ("GET", "/v1/chat/completions", False), ("POST", "/v1/batches", False),
        ("POST", "/v1/fine_tuning/jobs", False), ("POST", "/v1/realtime/client_secrets", False),
        ("DELETE", "/v1/models/ft:gpt-4o:acme", False), ("GET", "/v1/organization/users", False),
        ("POST", "/v1/files", False)]


@pytest.fixture(scope="module")
def proxied(files: Path) -> Any:
    from aigw_policy.gateway import load_keys

    stub = StubUpstream()
    with ServerThread(stub) as up:
        app = Gateway(policy=files / "p.aigw", upstream=up.url, keys=load_keys(files / "keys.yaml"), timeout=5.0,
                      watch=0)
        with ServerThread(app) as gw:
            yield gw, stub


@pytest.mark.parametrize(("method", "path", "lent"), LENT, ids=[f"{m} {p}" for m, p, _ in LENT])
def test_the_credential_goes_with_inference_and_model_lists_only(proxied: Any, method: str, path: str,
                                                                  lent: bool) -> None:
    gw, stub = proxied
    before = len(stub.seen)
    body = {"model": "gpt-4o", "messages": MSG} if method == "POST" else None
    httpx.request(method, gw.url + path, json=body, headers={"authorization": "Bearer sk-gw-1"}, timeout=10)
    (seen,) = stub.seen[before:]
    assert (secrets_in(seen) != set()) is lent
    assert "sk-gw-1" not in repr(seen["headers"])  # the client's own never goes, lent or not


def test_claude_on_vertex_carries_googles_key_not_anthropics(files: Path) -> None:
    """Claude's body as Vertex AI frames it is answered in Anthropic's error shape (its client is
    Anthropic's SDK: providers/native_paths.py) but served by Google: it carries the `gemini`
    entry, never the Anthropic key."""
    path = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5:rawPredict"
    seen = run(files, None, "anthropic", "authorization",
               request=(path, {"anthropic_version": "vertex-2023-10-16", "max_tokens": 10, "messages": MSG}))
    assert secrets_in(seen) == {"gemini"}
