"""The keys file: identities by key or sha256, upstream auth with env vars, errors with a location."""

from __future__ import annotations

import hashlib

import pytest
from typer.testing import CliRunner

from aigw_policy.cli import app
from aigw_policy.gateway.keys import KeysError, key_from, parse_keys


def test_keys_by_key_and_digest() -> None:
    digest = hashlib.sha256(b"sk-b").hexdigest()
    ring = parse_keys(f"""keys:
  - key: sk-a
    identity: {{key: a, team: t, labels: {{env: prod}}}}
  - sha256: {digest.upper()}
    identity: {{key: b}}
upstream_auth: {{openai: {{authorization: "Bearer ${{env.UP}}"}}}}
""", env={"UP": "s3cret"})
    assert ring.lookup("sk-a") == {"key": "a", "team": "t", "labels": {"env": "prod"}}
    assert ring.lookup("sk-b") == {"key": "b"}
    assert ring.lookup("sk-c") is None and ring.lookup(None) is None
    assert ring.upstream_auth == {"openai": {"authorization": "Bearer s3cret"}}
    assert len(ring) == 2


@pytest.mark.parametrize(("text", "where", "words"), [
    ("keys: [", "<keys>:1:8", "not valid YAML"),
    ("", "<keys>:1:1", "empty"),
    ("kees: []", "<keys>:1:1", "unknown field `kees`"),
    ("keys: {a: 1}", "<keys>:1:7", "must be a list"),
    ("keys:\n  - identity: {key: a}", "<keys>:2:5", "exactly one of `key` and `sha256`"),
    ("keys:\n  - key: a\n    sha256: b\n    identity: {}", "<keys>:2:5", "exactly one"),
    ("keys:\n  - sha256: abc\n    identity: {key: a}", "<keys>:2:13", "64 hex digits"),
    ("keys:\n  - key: a", "<keys>:2:5", "needs an `identity`"),
    ("keys:\n  - key: a\n    identity: {team: 3}", "<keys>:3:22", "identity.team must be a non-empty string"),
    ("keys:\n  - key: a\n    identity: {squad: x}", "<keys>:3:16", "unknown identity field `squad`"),
    ("keys:\n  - key: a\n    identity: {}\n  - key: a\n    identity: {}", "<keys>:4:10", "listed twice"),
    ("keys: []\nupstream_auth: {x-api-key: '${env.NOPE_NOT_SET}'}", "<keys>:2:28", "`NOPE_NOT_SET` is not set"),
    ("keys: []\nupstream_auth: {anthropic: {authorization: x}}", "<keys>:2:29", "does not read `authorization`"),
    ("keys: []\nupstream_auth: {opneai: {authorization: x}}", "<keys>:2:17", "unknown provider `opneai`"),
])
def test_malformed_keys_have_a_location(text: str, where: str, words: str) -> None:
    with pytest.raises(KeysError) as caught:
        parse_keys(text, env={})
    assert str(caught.value).startswith(where + ": "), str(caught.value)
    assert words in str(caught.value)


def test_every_problem_is_reported_with_a_code_and_a_place() -> None:
    text = """keys:
  - key: a
    identity: {squad: x}
  - sha256: abc
    identity: {key: b}
  - key: c
    idenity: {key: c}
upstream_auth:
  opneai: {authorization: "Bearer ${env.NOPE}"}
  anthropic: {x-api-key: "${env.NOPE}", authorization: y}
"""
    with pytest.raises(KeysError) as caught:
        parse_keys(text, name="k.yaml", env={})
    got = [(d.code, str(d.span)) for d in caught.value.diagnostics]
    assert got == [("AIGW601", "k.yaml:3:16"), ("AIGW603", "k.yaml:4:13"), ("AIGW601", "k.yaml:7:5"),
                   ("AIGW602", "k.yaml:6:5"), ("AIGW601", "k.yaml:9:3"), ("AIGW604", "k.yaml:10:26"),
                   ("AIGW605", "k.yaml:10:41")]
    lines = str(caught.value).splitlines()
    assert len(lines) == 7
    assert lines[0] == ("k.yaml:3:16: unknown identity field `squad` (fields: `key`, `user`, `team`, `org`, `tier`, "
                        "`labels`) [AIGW601]")
    assert "did you mean `identity`?" in lines[2] and "did you mean `openai`?" in lines[4]


def test_serve_prints_every_problem_of_the_keys_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "keys.yaml").write_text("keys:\n  - key: a\n    identity: {squad: x}\n  - key: b\n    identity: {tem: x}\n")
    (tmp_path / "p.aigw").write_text('policy { on request { rule "r" { deny 403 } } }')
    result = CliRunner().invoke(app, ["serve", "--policy", str(tmp_path / "p.aigw"), "--upstream", "http://127.0.0.1:9",
                                      "--keys", str(tmp_path / "keys.yaml")])
    assert result.exit_code == 2
    assert "keys.yaml:3:16: unknown identity field `squad`" in result.output
    assert "keys.yaml:5:16: unknown identity field `tem`" in result.output and "did you mean `team`?" in result.output


def test_key_sources() -> None:
    assert key_from({"authorization": "Bearer sk-1"}) == "sk-1"
    assert key_from({"x-api-key": "sk-2"}) == "sk-2"
    assert key_from({"x-goog-api-key": "sk-3"}) == "sk-3"
    assert key_from({}, b"alt=sse&key=sk-4") == "sk-4"
    assert key_from({"authorization": "Basic eA=="}) is None


def test_serve_exits_2_on_a_malformed_keys_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "keys.yaml").write_text("keys:\n  - key: a\n    identity: {squad: x}\n")
    (tmp_path / "p.aigw").write_text('policy { on request { rule "r" { deny 403 } } }')
    result = CliRunner().invoke(app, ["serve", "--policy", str(tmp_path / "p.aigw"), "--upstream", "http://127.0.0.1:9",
                                      "--keys", str(tmp_path / "keys.yaml")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'keys.yaml'}:3:16: unknown identity field `squad`" in result.output


def test_serve_exits_2_on_a_bad_policy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "p.aigw").write_text('policy { on request { rule "r" { dney 403 } } }')
    result = CliRunner().invoke(app, ["serve", "--policy", str(tmp_path / "p.aigw"), "--upstream", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "has errors" in result.output
