"""ngrok's action reference pages (`ngrok/ngrok-docs`, August 2026: each action's
``snippets/traffic-policy/actions/<action>/config.mdx``, its ``<ConfigField>`` rows and their
prose) against what this engine loads and runs (twenty-second ngrok pass).

Each row names its source page; rows are dicts with named keys, and a misspelled key fails.
``LOAD_ROWS``: a config as the page writes or forbids it, and the code we answer (``None``:
it loads). ``LOOSER``: where ngrok refuses a config and this engine runs it, on purpose, each
with the reason (docs/ngrok.md, "What is different on purpose"); a new looseness is not in
this table and fails ``LOAD_ROWS``. ``RUN_ROWS``: a config that renders per request.

Class fixed in this pass (its rows failed before the fix): `basic-auth` credentials with
``${...}`` were checked only for the template's syntax. ngrok's page lists the patterns it
takes (``${u}:password``, ``${u}:${p}``, ``prefix${u}:password``, one ``${...}`` for the whole
credential) and those it refuses (``${u}password``: no `:` between the parts); a CEL value
may not hold the `:`; a rendered password has 8 to 128 characters as a written one does.
The refused patterns loaded and never matched; a rendered `alice:short` authorized `short`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import aigw_policy as ap

CONFIG = "snippets/traffic-policy/actions/{}/config.mdx"
AI_GATEWAY = "../shared/ngrok/ai-gateway-action/reference/configuration-schema.mdx"
ROW_KEYS = {"id", "source", "action", "config", "code"}
LOOSER_KEYS = {*ROW_KEYS, "why"}
RUN_KEYS = {"id", "source", "credential", "vars", "auth", "status", "reason"}

_RATE = {"name": "n", "algorithm": "sliding_window", "capacity": 10, "rate": "60s", "bucket_key": ["req.host"]}

LOAD_ROWS: list[dict[str, Any]] = [
    # basic-auth: "Valid patterns" and "Invalid patterns" of its credentials field
    {"id": "cel-user", "source": CONFIG.format("basic-auth"), "action": "basic-auth",
     "config": {"credentials": ["${vars.user}:password123"]}, "code": None},
    {"id": "cel-password", "source": CONFIG.format("basic-auth"), "action": "basic-auth",
     "config": {"credentials": ["alice:${vars.password}"]}, "code": None},
    {"id": "cel-both", "source": CONFIG.format("basic-auth"), "action": "basic-auth",
     "config": {"credentials": ["${vars.user}:${vars.password}"]}, "code": None},
    {"id": "cel-whole", "source": CONFIG.format("basic-auth"), "action": "basic-auth",
     "config": {"credentials": ["${vars.credential}"]}, "code": None},
    {"id": "cel-user-prefix", "source": CONFIG.format("basic-auth"), "action": "basic-auth",
     "config": {"credentials": ["user-prefix${vars.user}:password123"]}, "code": None},
    {"id": "cel-no-boundary", "source": CONFIG.format("basic-auth"), "action": "basic-auth",
     "config": {"credentials": ["${vars.user}password123"]}, "code": "AIGW126"},
    {"id": "cel-spans-both-parts", "source": CONFIG.format("basic-auth"), "action": "basic-auth",
     "config": {"credentials": ["user-prefix${vars.user}password-suffix"]}, "code": "AIGW126"},
    {"id": "cel-no-username", "source": CONFIG.format("basic-auth"), "action": "basic-auth",
     "config": {"credentials": [":${vars.password}"]}, "code": "AIGW126"},
    # "Password must be at least 8 characters and no more than 128": a written password beside
    # a CEL username is still a written password
    {"id": "cel-user-short-password", "source": CONFIG.format("basic-auth"), "action": "basic-auth",
     "config": {"credentials": ["${vars.user}:short"]}, "code": "AIGW126"},
    {"id": "cel-user-long-password", "source": CONFIG.format("basic-auth"), "action": "basic-auth",
     "config": {"credentials": ["${vars.user}:" + "p" * 129]}, "code": "AIGW126"},
    # ERR_NGROK_2257, ERR_NGROK_2258: a username and a password "meet the requirements of
    # RFC 7617 #2.1", which has no control character in either
    {"id": "control-in-user", "source": "errors/err_ngrok_2257.mdx", "action": "basic-auth",
     "config": {"credentials": ["al\u0001ice:password123"]}, "code": "AIGW126"},
    {"id": "control-in-password", "source": "errors/err_ngrok_2258.mdx", "action": "basic-auth",
     "config": {"credentials": ["alice:passw\u007ford123"]}, "code": "AIGW126"},
    {"id": "control-beside-cel", "source": "errors/err_ngrok_2258.mdx", "action": "basic-auth",
     "config": {"credentials": ["${vars.user}:pass\tword123"]}, "code": "AIGW126"},
    # rate-limit: "name ... Required", "capacity ... minimum 1, maximum 2,000,000,000",
    # "bucket_key ... array of strings", "algorithm ... Supported values: sliding_window"
    {"id": "rate-limit-as-documented", "source": CONFIG.format("rate-limit"), "action": "rate-limit",
     "config": _RATE, "code": None},
    {"id": "rate-limit-no-name", "source": CONFIG.format("rate-limit"), "action": "rate-limit",
     "config": {k: v for k, v in _RATE.items() if k != "name"}, "code": "AIGW121"},
    {"id": "rate-limit-capacity-0", "source": CONFIG.format("rate-limit"), "action": "rate-limit",
     "config": {**_RATE, "capacity": 0}, "code": "AIGW123"},
    {"id": "rate-limit-capacity-over", "source": CONFIG.format("rate-limit"), "action": "rate-limit",
     "config": {**_RATE, "capacity": 2_000_000_001}, "code": "AIGW123"},
    {"id": "rate-limit-no-bucket", "source": CONFIG.format("rate-limit"), "action": "rate-limit",
     "config": {**_RATE, "bucket_key": []}, "code": "AIGW123"},
    {"id": "rate-limit-11-buckets", "source": CONFIG.format("rate-limit"), "action": "rate-limit",
     "config": {**_RATE, "bucket_key": ["req.host"] * 11}, "code": "AIGW123"},
    {"id": "rate-limit-unknown-algorithm", "source": CONFIG.format("rate-limit"), "action": "rate-limit",
     "config": {**_RATE, "algorithm": "leaky_bucket"}, "code": "AIGW125"},
    {"id": "rate-limit-not-a-duration", "source": CONFIG.format("rate-limit"), "action": "rate-limit",
     "config": {**_RATE, "rate": "1 minute"}, "code": "AIGW124"},
    # ai-gateway's timeouts are Go durations: ngrok's own errors print them so (ERR_NGROK_3810:
    # "Request timed out after 5m0s"), and a duration string is what Go's time.ParseDuration reads
    {"id": "ai-gateway-go-durations", "source": AI_GATEWAY, "action": "ai-gateway",
     "config": {"total_timeout": "5m0s", "per_request_timeout": "1m30s"}, "code": None},
    {"id": "ai-gateway-fractional-duration", "source": AI_GATEWAY, "action": "ai-gateway",
     "config": {"total_timeout": "1.5m", "per_request_timeout": "45s"}, "code": None},
    {"id": "ai-gateway-microseconds", "source": AI_GATEWAY, "action": "ai-gateway",
     "config": {"per_request_timeout": "2500000us", "total_timeout": "1h0m0s"}, "code": None},
    {"id": "ai-gateway-negative-duration", "source": AI_GATEWAY, "action": "ai-gateway",
     "config": {"total_timeout": "-5m"}, "code": "AIGW124"},
    {"id": "ai-gateway-zero-duration", "source": AI_GATEWAY, "action": "ai-gateway",
     "config": {"total_timeout": "0m0s"}, "code": "AIGW124"},
    {"id": "ai-gateway-unit-missing", "source": AI_GATEWAY, "action": "ai-gateway",
     "config": {"total_timeout": "1m30"}, "code": "AIGW124"},
    {"id": "ai-gateway-surface-format", "source": AI_GATEWAY, "action": "ai-gateway",
     "config": {"providers": [{"id": "openai", "supported_api_surfaces": [{"format": "grpc"}]}]}, "code": "AIGW125"},
    {"id": "ai-gateway-max-input", "source": AI_GATEWAY + " (maximum 500,000)", "action": "ai-gateway",
     "config": {"max_input_tokens": 500_001}, "code": "AIGW123"},
    {"id": "ai-gateway-max-output", "source": AI_GATEWAY + " (maximum 500,000)", "action": "ai-gateway",
     "config": {"max_output_tokens": 500_001}, "code": "AIGW123"},
    {"id": "ai-gateway-params-without-surface", "source": AI_GATEWAY + " (supported_params needs surface)",
     "action": "ai-gateway", "config": {"providers": [{"id": "openai", "supported_api_surfaces": [
         {"format": "openai", "supported_params": [{"name": "model"}]}]}]}, "code": "AIGW143"},
    {"id": "ai-gateway-model-without-id", "source": AI_GATEWAY + " (providers[].models[].id required)",
     "action": "ai-gateway", "config": {"providers": [{"id": "openai", "models": [{"id_aliases": ["a"]}]}]},
     "code": "AIGW121"},
    # compress-response: "Each element must be unique", the four supported algorithms
    {"id": "compress-twice", "source": CONFIG.format("compress-response"), "action": "compress-response",
     "config": {"algorithms": ["gzip", "gzip"]}, "code": "AIGW126"},
    {"id": "compress-zstd", "source": CONFIG.format("compress-response"), "action": "compress-response",
     "config": {"algorithms": ["zstd"]}, "code": "AIGW125"},
    # forward-internal: on_error is `halt` (default) or `continue`
    {"id": "forward-on-error-skip", "source": CONFIG.format("forward-internal"), "action": "forward-internal",
     "config": {"url": "https://api.internal", "on_error": "skip"}, "code": "AIGW125"},
    # remove-headers, add-headers: "Minimum 1, Maximum 10"; remove-headers takes no CEL
    {"id": "remove-none", "source": CONFIG.format("remove-headers"), "action": "remove-headers",
     "config": {"headers": []}, "code": "AIGW123"},
    {"id": "remove-cel", "source": CONFIG.format("remove-headers"), "action": "remove-headers",
     "config": {"headers": ["${vars.name}"]}, "code": "AIGW126"},
    {"id": "add-none", "source": CONFIG.format("add-headers"), "action": "add-headers",
     "config": {"headers": {}}, "code": "AIGW123"},
    # url-rewrite, redirect: `from` is optional, both take CEL
    {"id": "rewrite-without-from", "source": CONFIG.format("url-rewrite"), "action": "url-rewrite",
     "config": {"to": "/b"}, "code": None},
    {"id": "redirect-cel-from-to", "source": CONFIG.format("redirect"), "action": "redirect",
     "config": {"from": "${vars.from}", "to": "${vars.to}"}, "code": None},
]

LOOSER: list[dict[str, Any]] = [
    {"id": "rate-limit-without-bucket-key", "source": CONFIG.format("rate-limit") + " (bucket_key Required)",
     "action": "rate-limit", "config": {k: v for k, v in _RATE.items() if k != "bucket_key"}, "code": None,
     "why": "one bucket for every request: this project's own policies and SPEC's limits write it so"},
    {"id": "rate-limit-without-algorithm", "source": CONFIG.format("rate-limit") + " (algorithm Required)",
     "action": "rate-limit", "config": {k: v for k, v in _RATE.items() if k != "algorithm"}, "code": None,
     "why": "ngrok's schema gives it the default sliding_window"},
    {"id": "rate-limit-30s", "source": CONFIG.format("rate-limit") + " (minimum 60s)", "action": "rate-limit",
     "config": {**_RATE, "rate": "30s"}, "code": None, "why": "any duration (docs/ngrok.md)"},
    {"id": "rate-limit-65s", "source": CONFIG.format("rate-limit") + " (a multiple of ten seconds)",
     "action": "rate-limit", "config": {**_RATE, "rate": "65s"}, "code": None, "why": "any duration"},
    {"id": "rate-limit-1d", "source": CONFIG.format("rate-limit") + " (maximum 24h)", "action": "rate-limit",
     "config": {**_RATE, "rate": "1d"}, "code": None, "why": "any duration, up to 366 days"},
    {"id": "rate-limit-go-compound", "source": "rate-limit schema: ^([0-9]+0s|[0-9]+m|[0-9]+h)$",
     "action": "rate-limit", "config": {**_RATE, "rate": "1m30s"}, "code": None,
     "why": "a duration as Go writes one, as the ai-gateway's timeouts read it"},
    {"id": "rate-limit-fixed-window", "source": CONFIG.format("rate-limit") + " (sliding_window only)",
     "action": "rate-limit", "config": {**_RATE, "algorithm": "fixed_window"}, "code": None,
     "why": "this engine's other algorithms (language.md)"},
    {"id": "ai-gateway-native-surface", "source": AI_GATEWAY + " (format: openai or anthropic)",
     "action": "ai-gateway", "config": {"providers": [{"id": "ollama", "base_url": "http://ollama.example:11434",
                                                       "supported_api_surfaces": [{"format": "ollama"}]}]},
     "code": None, "why": "a vendor's native API, failed over between its replicas (routing.md)"},
    {"id": "log-without-metadata", "source": CONFIG.format("log") + " (metadata Required)", "action": "log",
     "config": {}, "code": None, "why": "ngrok's schema does not require it; an empty log records the rule"},
]


def _problems(action: str, config: dict[str, Any]) -> list[Any]:
    doc = json.dumps({"on_http_request": [{"actions": [{"type": action, "config": config}]},
                                          {"actions": [{"type": "set-vars", "config": {"vars": [
                                              {"user": "u"}, {"password": "p"}, {"credential": "c"},
                                              {"from": "f"}, {"to": "t"}, {"name": "n"}]}}]}]})
    _, found = ap.read(doc, format="json", cache_dir=None)
    return [d for d in found if d.code != "AIGW404"]  # vars set by a later rule: AIGW404 says so


@pytest.mark.parametrize("row", LOAD_ROWS + LOOSER, ids=lambda r: r["id"])
def test_config_as_ngroks_page_says(row: dict[str, Any]) -> None:
    assert set(row) == (LOOSER_KEYS if "why" in row else ROW_KEYS), row["id"]
    found = _problems(row["action"], row["config"])
    if row["code"] is None:
        assert found == [], [str(d) for d in found]
    else:
        assert row["code"] in {d.code for d in found}, [str(d) for d in found]
        assert all(d.span is not None and d.message for d in found)


def _basic(user_password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(user_password.encode()).decode()}


RUN_ROWS: list[dict[str, Any]] = [
    {"id": "whole", "source": CONFIG.format("basic-auth"), "credential": "${vars.credential}",
     "vars": {"credential": "alice:password123"}, "auth": "alice:password123", "status": 200, "reason": None},
    {"id": "user", "source": CONFIG.format("basic-auth"), "credential": "${vars.user}:password123",
     "vars": {"user": "alice"}, "auth": "alice:password123", "status": 200, "reason": None},
    {"id": "both", "source": CONFIG.format("basic-auth"), "credential": "${vars.user}:${vars.password}",
     "vars": {"user": "alice", "password": "password123"}, "auth": "alice:password124", "status": 401,
     "reason": None},
    {"id": "prefix", "source": CONFIG.format("basic-auth"), "credential": "user-${vars.user}:password123",
     "vars": {"user": "alice"}, "auth": "user-alice:password123", "status": 200, "reason": None},
    # "CEL expressions cannot embed the `:` delimiter within username or password components"
    {"id": "colon-in-user", "source": CONFIG.format("basic-auth"), "credential": "${vars.user}:${vars.password}",
     "vars": {"user": "al:ice", "password": "password123"}, "auth": "al:ice:password123", "status": 500,
     "reason": "`:`"},
    {"id": "colon-in-password", "source": CONFIG.format("basic-auth"), "credential": "alice:${vars.password}",
     "vars": {"password": "pass:word123"}, "auth": "alice:pass:word123", "status": 500, "reason": "`:`"},
    # a rendered password follows the written one's rule: 8 to 128 characters
    {"id": "rendered-short-password", "source": CONFIG.format("basic-auth"), "credential": "${vars.credential}",
     "vars": {"credential": "alice:short"}, "auth": "alice:short", "status": 500, "reason": "8 to 128"},
    {"id": "rendered-control", "source": "errors/err_ngrok_2258.mdx", "credential": "alice:${vars.password}",
     "vars": {"password": "pass\nword123"}, "auth": "alice:pass\nword123", "status": 500, "reason": "control"},
    {"id": "rendered-no-colon", "source": CONFIG.format("basic-auth"), "credential": "${vars.credential}",
     "vars": {"credential": "alicepassword123"}, "auth": "alice:password123", "status": 500,
     "reason": "username:password"},
    {"id": "rendered-empty-user", "source": CONFIG.format("basic-auth"), "credential": "${vars.user}:password123",
     "vars": {"user": ""}, "auth": ":password123", "status": 500, "reason": "username"},
]


@pytest.mark.parametrize("row", RUN_ROWS, ids=lambda r: r["id"])
def test_rendered_credentials(row: dict[str, Any]) -> None:
    assert set(row) == RUN_KEYS, row["id"]
    doc = {"on_http_request": [
        {"actions": [{"type": "set-vars", "config": {"vars": [{k: v} for k, v in row["vars"].items()]}}]},
        {"actions": [{"type": "basic-auth", "config": {"credentials": [row["credential"]]}}]}]}
    engine = ap.Engine(ap.loads(json.dumps(doc), format="json"))
    d = engine.evaluate({"id": "r1", "now": "2026-11-26T12:00:00Z",
                         "request": {"method": "GET", "url": "https://shop.example/", "headers": _basic(row["auth"])}})
    assert d.status_code == row["status"], (d.status_code, d.reason)
    if row["reason"] is not None:
        assert row["reason"] in d.reason and "AIGW509" in {e["code"] for e in d.to_dict()["errors"]}, d.to_dict()
        assert row["vars"].get("password", "\0") not in d.reason  # a rendered password is never told


def test_two_ai_gateway_actions_load_here() -> None:
    """ngrok refuses a policy with a second `ai-gateway` action (`ERR_NGROK_2266`, "Only one AI
    Gateway action is allowed per traffic policy"); here rules route by condition to one of
    several, and a shadow route (`enforce: false`) runs beside the enforced one (routing.md):
    looser on purpose, as the rows of ``LOOSER``."""
    gateway = {"type": "ai-gateway", "config": {"providers": [{"id": "openai"}]}}
    doc = json.dumps({"on_http_request": [{"expressions": ["req.url.path == '/a'"], "actions": [gateway]},
                                          {"actions": [gateway]}]})
    _, found = ap.read(doc, format="json", cache_dir=None)
    assert found == []
