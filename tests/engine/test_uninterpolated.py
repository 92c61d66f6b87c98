"""AIGW205: `${...}` in a config value that neither ngrok nor this engine interpolates.

ngrok's reference marks the fields that "Support CEL Interpolation" (`cel={true}` on its
`<ConfigField>`: header values, bodies, `url`, `to`, `credentials`, `metadata`, the AI
gateway's `headers`, `query_params`, `body`); elsewhere `${...}` is text. Such a document
loads here as on ngrok, and means the same (the text as written); before session 26 it loaded
without a word, so a `rate-limit` named `${req.host}` read as a limit per host and a provider's
`base_url: https://${vars.host}` as a URL per request. Rows of ``WARNED`` failed before the
fix (no AIGW205); rows of ``QUIET`` are interpolated fields, which must not get it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.loader import read

_AI = "ai-gateway"
_P = {"id": "my-llm", "base_url": "https://llm.example"}

# (action, config, the path AIGW205 names)
WARNED: list[tuple[str, dict[str, Any], str]] = [
    ("rate-limit", {"name": "per-${req.host}", "capacity": 5, "rate": "60s"}, "name"),
    ("token-limit", {"name": "${identity.team}", "capacity": 5, "rate": "60s"}, "name"),
    ("usage-cap", {"name": "${identity.team}", "limit": 5, "unit": "requests", "period": "day"}, "name"),
    ("basic-auth", {"credentials": ["alice:password123"], "realm": "${vars.realm}"}, "realm"),
    ("set-model", {"model": "gpt-4o", "provider": "${vars.provider}"}, "provider"),
    (_AI, {"providers": [{**_P, "base_url": "https://${vars.host}/v1"}]}, "providers.0.base_url"),
    (_AI, {"providers": [{**_P, "display_name": "${req.host}"}]}, "providers.0.display_name"),
    (_AI, {"providers": [{**_P, "metadata": {"team": "${identity.team}"}}]}, "providers.0.metadata.team"),
    (_AI, {"providers": [{**_P, "models": [{"id": "${ai.model}"}]}]}, "providers.0.models.0.id"),
    (_AI, {"providers": [{**_P, "models": [{"id": "m", "id_aliases": ["${vars.a}"]}]}]},
     "providers.0.models.0.id_aliases.0"),
]

QUIET: list[tuple[str, dict[str, Any]]] = [
    ("custom-response", {"body": "${req.host}", "headers": {"x-a": "${req.host}"}}),
    ("deny", {"message": "no ${req.host}"}),
    ("add-headers", {"headers": {"x-host": "${req.host}"}}),
    ("log", {"metadata": {"host": "${req.host}"}}),
    ("set-vars", {"vars": [{"host": "${req.host}"}]}),
    ("redirect", {"to": "https://${req.host}/new"}),
    ("restrict-ips", {"allow": ["${vars.office}"]}),
    ("basic-auth", {"credentials": ["${vars.user}:password123"]}),
    ("forward-internal", {"url": "https://${vars.team}.internal"}),
    (_AI, {"headers": {"x-id": "${req.id}"}, "query_params": {"v": "${vars.v}"}, "body": {"user": "${identity.user}"}}),
    (_AI, {"providers": [{"id": "openai", "api_keys": [{"value": "${secrets.get('openai', 'key')}"}]}]}),
    # CEL, not text: a `${` there is a CEL syntax error (AIGW200), said once
    (_AI, {"model_selection": {"strategy": ["${ai.models}"]}}),
    ("rate-limit", {"name": "n", "capacity": 5, "rate": "60s", "bucket_key": ["${req.host}"]}),
]


def _doc(action: str, config: dict[str, Any]) -> str:
    return json.dumps({"on_http_request": [{"actions": [{"type": action, "config": config}]}]}, indent=1)


@pytest.mark.parametrize(("action", "config", "path"), WARNED, ids=[f"{r[0]}:{r[2]}" for r in WARNED])
def test_dollar_brace_where_nothing_is_interpolated_is_named(action: str, config: dict[str, Any], path: str) -> None:
    text = _doc(action, config)
    policy, found = read(text, format="json", cache_dir=None)
    assert policy is not None and not any(d.is_error for d in found), found
    [warning] = [d for d in found if d.code == "AIGW205"]
    assert warning.severity.value == "warning" and f"`{path}`" in warning.message and warning.help
    key = path.rsplit(".", 1)[-1]
    line = text.splitlines()[warning.span.line - 1]  # the place is the value's own line
    assert f'"{key}"' in line or "${" in line, (line, warning)


@pytest.mark.parametrize(("action", "config"), QUIET, ids=[r[0] for r in QUIET])
def test_interpolated_fields_are_not_named(action: str, config: dict[str, Any]) -> None:
    _, found = read(_doc(action, config), format="json", cache_dir=None)
    assert "AIGW205" not in [d.code for d in found], found


def test_the_text_is_kept_as_written_as_on_ngrok() -> None:
    """A realm with `${...}` is shown to the client as written (ngrok's `realm` is a plain string)."""
    policy = ap.loads(_doc("basic-auth", {"credentials": ["alice:password123"], "realm": "${vars.realm}"}),
                      format="json")
    decision = ap.Engine(policy).evaluate({"now": "2026-11-26T12:00:00Z", "conn": {"client_ip": "203.0.113.7"},
                                           "request": {"method": "GET", "url": "https://gw.example/"}})
    headers = {k.lower(): v for k, v in decision.response["headers"].items()}
    assert decision.status_code == 401 and "${vars.realm}" in str(headers["www-authenticate"])
