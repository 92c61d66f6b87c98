"""Upstream credentials no HTTP header can carry (``AIGW609``).

A credential with a line break inside it (two keys pasted into one variable, a value cut and
pasted across lines), a control character or a character beyond Latin-1 was accepted at
start, and then every request sent with it failed inside the upstream client (an
``Internal Server Error`` from the server, or a failed attempt for every routed request): it is
refused at start (and at a reload), naming where it came from, never the value. Surrounding
whitespace, such as the newline a Kubernetes Secret made from a file keeps, is trimmed: the
key is sent without it, as the provider expects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aigw_policy.gateway import KeysError, parse_keys
from aigw_policy.routing.secrets import SecretError, Secrets

from .test_routing_startup import ROUTED, serve, served, write  # noqa: F401

BAD = {"line break": "sk-one\nsk-two", "carriage return": "sk-one\rx", "nul": "sk-\x00x", "escape": "sk-\x1bx",
       "beyond latin-1": "sk-\u2013x"}
TRIMMED = {"trailing newline": "sk-good\n", "crlf": "sk-good\r\n", "spaces": "  sk-good \t"}
UPSTREAM_AUTH = 'keys: []\nupstream_auth:\n  openai: {authorization: "Bearer ${env.K}"}\n  anthropic: {x-api-key: "${env.K}"}\n'


@pytest.mark.parametrize("value", sorted(BAD))
def test_a_keys_file_credential_no_header_can_carry_is_refused(value: str) -> None:
    with pytest.raises(KeysError) as caught:
        parse_keys(UPSTREAM_AUTH, env={"K": BAD[value]})
    codes = [d.code for d in caught.value.diagnostics]
    assert codes == ["AIGW609", "AIGW609"]
    assert "${env.K}" in str(caught.value) and BAD[value] not in str(caught.value)


@pytest.mark.parametrize("value", sorted(TRIMMED))
def test_a_keys_file_credential_is_sent_without_surrounding_whitespace(value: str) -> None:
    ring = parse_keys(UPSTREAM_AUTH, env={"K": TRIMMED[value]})
    assert ring.upstream_auth == {"openai": {"authorization": "Bearer sk-good"}, "anthropic": {"x-api-key": "sk-good"}}


def test_a_keys_file_header_name_that_is_no_token_is_refused() -> None:
    with pytest.raises(KeysError) as caught:
        parse_keys('keys: []\nupstream_auth:\n  openai: {"x org": "o-1", authorization: "Bearer sk-1"}\n', env={})
    assert [d.code for d in caught.value.diagnostics] == ["AIGW609"]


REF = "${secrets.get('alpha', 'one')}"


@pytest.mark.parametrize("value", sorted(BAD))
@pytest.mark.parametrize("source", ["file", "env"])
def test_a_secret_no_header_can_carry_is_refused(value: str, source: str) -> None:
    secrets = (Secrets({"alpha": {"one": BAD[value]}}, env={}) if source == "file"
               else Secrets({}, env={"AIGW_SECRET_ALPHA_ONE": BAD[value]}))
    with pytest.raises(SecretError) as caught:
        secrets.check([REF, "sk-literal-fine"])
    assert [d.code for d in caught.value.diagnostics] == ["AIGW609"]
    assert "AIGW_SECRET_ALPHA_ONE" in str(caught.value) and BAD[value] not in str(caught.value)


@pytest.mark.parametrize("value", sorted(TRIMMED))
def test_a_secret_and_a_literal_key_are_used_without_surrounding_whitespace(value: str) -> None:
    for secrets in (Secrets({"alpha": {"one": TRIMMED[value]}}, env={}),
                    Secrets({}, env={"AIGW_SECRET_ALPHA_ONE": TRIMMED[value]})):
        secrets.check([REF, TRIMMED[value]])
        assert secrets.resolve(REF) == "sk-good" and secrets.resolve(TRIMMED[value]) == "sk-good"


def test_serve_refuses_to_start_with_such_a_secret(tmp_path: Path, served: dict[str, Any]) -> None:  # noqa: F811
    result = serve(["-p", write(tmp_path, "p.yaml", ROUTED)],
                   env={"AIGW_SECRET_ALPHA_ONE": "sk-a\nsk-b", "AIGW_SECRET_ALPHA_TWO": "sk-2",
                        "AIGW_SECRET_BETA_ONLY": "sk-3", "AIGW_SECRET_GAMMA_KEY": "sk-4\n"})
    assert result.exit_code == 2, result.output
    assert "[AIGW609]" in result.output and "AIGW_SECRET_ALPHA_ONE" in result.output
    assert "sk-a" not in result.output and "app" not in served
    assert "GAMMA" not in result.output  # its trailing newline is trimmed, not an error


def test_serve_refuses_to_start_with_such_an_upstream_credential(tmp_path: Path,
                                                                  served: dict[str, Any]) -> None:  # noqa: F811
    keys = write(tmp_path, "k.yaml", UPSTREAM_AUTH.replace("keys: []", "keys: [{key: sk-gw, identity: {key: k}}]"))
    result = serve(["-p", write(tmp_path, "p.aigw", 'policy "s" { default allow }'), "--keys", keys,
                    "--upstream", "http://127.0.0.1:9"], env={"K": "sk-a\nsk-b"})
    assert result.exit_code == 2, result.output
    assert "[AIGW609]" in result.output and "sk-a" not in result.output and "app" not in served
