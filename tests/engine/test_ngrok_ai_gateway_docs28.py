"""Statements of ngrok's ``ai-gateway`` docs (``../shared/ngrok/ai-gateway-action/``) that a user
hits, each a row run through the engine: what the request gets, what the debugging trace says,
what loads. Each row names the page and the words it pins.

- ``models.mdx``: ``ngrok/auto`` "is equivalent to omitting the model field entirely";
  "Aliases must be unique across all models. You cannot use an alias that is already in use as
  an ID or alias by another model".
- ``configuration-schema.mdx``: ``max_output_tokens``, "Maximum number of tokens allowed in the
  completion response" (it loaded and did nothing: the request went out with its own cap, or
  none).
- ``restricting-access.mdx``: the refusals' bodies, ``{"error": {"message": "Provider 'google'
  is not allowed by gateway configuration", "type": "provider_not_allowed"}}``.
- ``debugging.mdx``: ``client.models`` is the client's ``models`` field (its example:
  ``"model": "gpt-4o", "models": ["gpt-4.1", "gpt-5"]``), ``client.rejected_models`` names the
  models the client asked for.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.diagnostics import PolicyError
from aigw_policy.routing.model import AttemptOutcome, Next

K = "api_keys: [{value: sk-a, id: a}]"
CONFIGURED = f"only_allow_configured_models: true\nproviders: [{{id: openai, {K}, models: [{{id: gpt-4o-mini}}, {{id: gpt-4o}}]}}]"
PICK = "model_selection: {strategy: [\"ai.models.filter(m, m.id == 'gpt-4o-mini')\"]}"


def _policy(config: str, after: str = "") -> ap.Policy:
    body = "\n".join("      " + line for line in config.strip("\n").splitlines())
    return ap.loads(f"on_http_request:\n  - type: ai-gateway\n    config:\n{body}\n{after}", format="yaml")


def _request(body: Any, path: str = "/v1/chat/completions", rid: str = "r1") -> dict[str, Any]:
    return {"id": rid, "now": "2026-11-26T12:00:00Z", "request": {
        "method": "POST", "url": f"https://gw.example{path}",
        "headers": {"content-type": "application/json", "authorization": "Bearer sk-client-0123456789abcdef"},
        "body": body}}


def _tried(config: str, body: Any, path: str = "/v1/chat/completions") -> tuple[int | None, list[str]]:
    decision = ap.Engine(_policy(config)).evaluate(_request(body, path)).to_dict()
    routing = decision.get("routing") or {}
    live = [f"{c['provider']}:{c['model']}" for c in routing.get("candidates", []) if not c["skipped_because"]]
    return decision["status_code"], live


# -- models.mdx: `ngrok/auto` is the model field omitted ------------------------------------------

AUTO = [  # (config, the rest of the body): omitted, `ngrok/auto` and `NGROK/AUTO` give one answer
    (CONFIGURED, {}),
    (f"{CONFIGURED}\n{PICK}", {}),
    (f"providers: [{{id: openai, {K}}}]\nonly_allow_configured_providers: true\n{PICK}", {}),
    (CONFIGURED, {"models": []}),
    (CONFIGURED, {"model": ""}),
]


@pytest.mark.parametrize(("config", "extra"), AUTO, ids=[f"auto-{i}" for i in range(len(AUTO))])
def test_a_request_that_names_no_model_is_ngrok_auto(config: str, extra: dict[str, Any]) -> None:
    messages = {"messages": [{"role": "user", "content": "hi"}]}
    omitted = _tried(config, {**messages, **extra})
    assert omitted == _tried(config, {**messages, "model": "ngrok/auto"}) == _tried(
        config, {**messages, "model": "NGROK/AUTO"})
    assert omitted[0] == 200 and omitted[1], omitted


# -- configuration-schema.mdx: max_output_tokens ---------------------------------------------------

CAPPED = [  # (path, body, the effect's from, the cap written)
    ("/v1/chat/completions", {"model": "gpt-4o", "max_tokens": 5000}, 5000, 100),
    ("/v1/chat/completions", {"model": "gpt-4o", "max_completion_tokens": 101}, 101, 100),
    ("/v1/chat/completions", {"model": "gpt-4o"}, None, 100),  # unset: up to the model's maximum
    ("/v1/chat/completions", {"model": "gpt-4o", "max_tokens": 100}, "kept", None),
    ("/v1/chat/completions", {"model": "gpt-4o", "max_tokens": 7}, "kept", None),
    ("/v1/responses", {"model": "gpt-4o", "input": "hi", "max_output_tokens": 900}, 900, 100),
    ("/v1/messages", {"model": "claude-3-5-sonnet-20241022", "max_tokens": 4096}, 4096, 100),
    ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}, "kept", None),  # nothing to cap
]


@pytest.mark.parametrize(("path", "body", "was", "cap"), CAPPED, ids=[f"{p}-{i}" for i, (p, *_r) in enumerate(CAPPED)])
def test_max_output_tokens_caps_what_the_provider_is_asked_for(path: str, body: dict[str, Any], was: Any,
                                                               cap: int | None) -> None:
    config = f"max_output_tokens: 100\nproviders: [{{id: openai, {K}}}, {{id: anthropic, {K}}}]"
    body = {**body, "messages": [{"role": "user", "content": "hi"}]} if "input" not in body else body
    decision = ap.Engine(_policy(config)).evaluate(_request(body, path)).to_dict()
    assert decision["status_code"] == 200, decision["reason"]
    clamp = decision["effects"].get("max_output_tokens")
    if was == "kept":
        assert clamp is None
    else:
        assert clamp == {"from": was, "to": cap, "rule": "#1"}


# -- restricting-access.mdx: the refusals' bodies ----------------------------------------------------

REFUSED = [
    (f"only_allow_configured_providers: true\nproviders: [{{id: openai, {K}}}]", "gemini-2.0-flash",
     "provider_not_allowed", "Provider 'google' is not allowed by gateway configuration"),
    (f"only_allow_configured_models: true\nproviders: [{{id: openai, {K}, models: [{{id: gpt-4o}}]}}]", "gpt-3.5-turbo",
     "model_not_allowed", "Model 'gpt-3.5-turbo' is not allowed by gateway configuration"),
]


@pytest.mark.parametrize(("config", "model", "kind", "message"), REFUSED, ids=[r[2] for r in REFUSED])
def test_a_refusal_has_the_body_ngroks_guide_prints(config: str, model: str, kind: str, message: str) -> None:
    decision = ap.Engine(_policy(config)).evaluate(_request({"model": model, "messages": []}))
    error = decision.response["body"]["error"]
    assert (decision.status_code, error["type"], error["code"]) == (403, kind, kind)
    assert error["message"].startswith(message), error["message"]


# -- debugging.mdx: the trace's client -----------------------------------------------------------------

def _trace(body: dict[str, Any]) -> dict[str, Any]:
    after = ("  - type: custom-response\n    config:\n      status_code: 503\n"
             "      headers: {content-type: application/json}\n      body: ${actions.ngrok.ai_gateway}\n")
    engine = ap.Engine(_policy(f"on_error: continue\nproviders: [{{id: openai, {K}}}]", after))
    engine.evaluate(_request({**body, "messages": [{"role": "user", "content": "hi"}]}, rid="t"))
    step = engine.attempt("t", None)
    while isinstance(step, Next):
        step = engine.attempt("t", AttemptOutcome(status_code=429, body={"error": {"message": "slow down"}}))
    trace: dict[str, Any] = json.loads(step.decision.response["body"])
    return trace


CLIENT = [  # (body, client.models, client.rejected_models' names)
    ({"model": "gpt-4o", "models": ["gpt-4.1", "gpt-5"]}, ["gpt-4.1", "gpt-5"], []),  # the guide's example
    ({"model": "gpt-4o"}, [], []),
    ({"models": ["gpt-4o-mini", "gpt-4o"]}, ["gpt-4o-mini", "gpt-4o"], []),
    ({"model": "gpt-4o", "models": ["gpt-4o", "gpt-4o-mini"]}, ["gpt-4o", "gpt-4o-mini"], []),  # as sent
    ({"model": "gpt-4o", "models": ["no-such-model-x"]}, ["no-such-model-x"], ["no-such-model-x"]),
    ({"model": "gpt-4o", "models": ["acme:m1"]}, ["acme:m1"], ["acme:m1"]),
]


@pytest.mark.parametrize(("body", "models", "rejected"), CLIENT, ids=[f"client-{i}" for i in range(len(CLIENT))])
def test_the_traces_client_is_what_the_client_sent(body: dict[str, Any], models: list[str],
                                                   rejected: list[str]) -> None:
    client = _trace(body)["client"]
    assert client["model"] == body.get("model", "")
    assert client["models"] == models
    assert [r["model"] for r in client["rejected_models"]] == rejected


# -- models.mdx: aliases unique across a provider's models ----------------------------------------

ALIASES = [  # (models of one provider, the AIGW141 expected or None)
    ("[{id: a, id_aliases: [b]}, {id: c, id_aliases: [b]}]", "AIGW141"),  # an alias twice
    ("[{id: a, id_aliases: [c]}, {id: c}]", "AIGW141"),  # an alias that is another model's id
    ("[{id: a}, {id: c, id_aliases: [A]}]", "AIGW141"),  # case does not matter
    ("[{id: a, id_aliases: [x, y]}, {id: c, id_aliases: [z, X]}]", "AIGW141"),
    ("[{id: gpt-4o-2024-11-20, id_aliases: [gpt-4o, gpt-4-latest]}]", None),  # ngrok's own: a catalog id
    ("[{id: a, id_aliases: [a, b, b]}]", None),  # one model's own names repeated: still one model
    ("[{id: a, id_aliases: [b]}, {id: c, id_aliases: [d]}]", None),
]


@pytest.mark.parametrize(("models", "code"), ALIASES, ids=[f"aliases-{i}" for i in range(len(ALIASES))])
def test_an_alias_names_one_model_of_its_provider(models: str, code: str | None) -> None:
    config = f"providers: [{{id: my, base_url: 'https://llm.internal.example', models: {models}}}]"
    if code is None:
        _policy(config)
        return
    with pytest.raises(PolicyError) as caught:
        _policy(config)
    found = [d for d in caught.value.diagnostics if d.code == code]
    assert len(found) == 1 and found[0].span is not None and "alias" in found[0].message, caught.value


def test_the_same_alias_in_two_providers_is_failover_not_a_conflict() -> None:
    config = ("providers: [{id: p1, base_url: 'https://a.internal.example', models: [{id: m}]}, "
              "{id: p2, base_url: 'https://b.internal.example', models: [{id: n, id_aliases: [m]}]}]")
    assert _tried(config, {"model": "m", "messages": []}) == (200, ["p1:m", "p2:n"])


# -- configuration-schema.mdx: `headers` "to include in requests to AI providers" -----------------

CREDENTIALS = [  # (headers, the names warned about): a credential header is never sent here
    ("{Authorization: 'Bearer ${req.id}'}", ["Authorization"]),
    ("{x-api-key: k1, API-KEY: k2, x-goog-api-key: k3}", ["x-api-key", "API-KEY", "x-goog-api-key"]),
    ("{X-Custom-Header: value, X-Request-ID: '${req.id}'}", []),  # the reference's own example
    ("{openai-organization: org-1}", []),  # sent (an account header, not a credential)
]


@pytest.mark.parametrize(("headers", "warned"), CREDENTIALS, ids=[f"headers-{i}" for i in range(len(CREDENTIALS))])
def test_a_credential_header_in_headers_is_named_as_never_sent(headers: str, warned: list[str]) -> None:
    from aigw_policy.loader import read  # noqa: PLC0415

    text = ("on_http_request:\n  - type: ai-gateway\n    config:\n"
            f"      headers: {headers}\n      providers: [{{id: my, base_url: 'https://llm.internal.example'}}]\n")
    policy, found = read(text)
    assert policy is not None
    from aigw_policy.analysis import run_passes  # noqa: PLC0415

    got = [d for d in run_passes(policy) if d.code == "AIGW149"]
    assert [d.message.split("`")[1] for d in got] == warned
    assert all(d.span is not None and d.span.line == 4 for d in got)
    engine = ap.Engine(policy)
    engine.evaluate(_request({"model": "my:m", "messages": []}, rid="h"))
    step = engine.attempt("h", None)
    assert isinstance(step, Next)
    from aigw_policy.routing.rewrite import upstream_request  # noqa: PLC0415

    out = upstream_request("POST", "/v1/chat/completions", b"", {}, b"{}", step.attempt, None)
    sent = {k.lower(): v for k, v in out.headers}
    assert not sent.keys() & {w.lower() for w in warned}, sent
    assert {k.lower() for k in step.attempt.headers} - {w.lower() for w in warned} <= sent.keys()


# -- the defaults of per_request_timeout (30s) and total_timeout (5m) --------------------------------
# configuration-schema.mdx and error-handling.mdx say 30s and 5m; how-it-works.mdx's table says 3m
# and 6m. The reference is followed (pins: these rows held before session 28).

TIMEOUTS = [  # (settings, the first attempt's time-out in seconds)
    ("", 30.0),
    ("per_request_timeout: 10m", 300.0),  # cut to what the 5m total leaves
    ("total_timeout: 10s", 10.0),
    ("per_request_timeout: 45s\ntotal_timeout: 2m", 45.0),
    ("per_request_timeout: 1m30s\ntotal_timeout: 5m0s", 90.0),  # Go's form, as ngrok prints it
]


@pytest.mark.parametrize(("settings", "seconds"), TIMEOUTS, ids=[f"timeouts-{i}" for i in range(len(TIMEOUTS))])
def test_the_timeouts_default_to_the_references(settings: str, seconds: float) -> None:
    engine = ap.Engine(_policy(f"{settings}\nproviders: [{{id: openai, {K}}}]"))
    engine.evaluate(_request({"model": "gpt-4o", "messages": []}, rid="to"))
    step = engine.attempt("to", None)
    assert isinstance(step, Next) and step.attempt.timeout_s == seconds
