"""Hover, completion, definitions, symbols and formatting, asked over stdio as an editor
asks. Each case is a document with `|` at the cursor and what the answer must hold."""

from __future__ import annotations

import itertools

import pytest

from aigw_policy.fmt import format_policy
from aigw_policy.ir.actions import ACTIONS

from .client import LspClient, ResponseError
from .conftest import ROOT, cursor

ACME = (ROOT / "examples" / "acme-gateway.aigw").read_text()
NGROK = (ROOT / "examples" / "ngrok-style.yaml").read_text()
_n = itertools.count()


def mark(text: str, before: str, occurrence: int = 0) -> str:
    """``text`` with the cursor put where ``before`` (containing `|`) says."""
    plain = before.replace("|", "")
    at = -1
    for _ in range(occurrence + 1):
        at = text.index(plain, at + 1)
    return text[:at] + before + text[at + len(plain):]


def ask(server: LspClient, method: str, marked: str, language: str = "aigw", **extra: object) -> object:
    text, pos = cursor(marked)
    uri = f"file:///tmp/features-{next(_n)}.{'aigw' if language == 'aigw' else 'yaml'}"
    server.open(uri, text, language)
    server.diagnostics(uri, 1)
    try:
        return server.at(method, uri, pos["line"], pos["character"], **extra)
    finally:
        server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


RULE = 'policy "p" {\n  on request {\n    rule "r" {\n      %s\n    }\n  }\n}\n'
LIMITED = ('policy "p" {\n  on request {\n    rule "a" {\n      token-limit { name: "team-tpm", capacity: 10, rate: 1m }\n'
           '    }\n    rule "b" {\n      when %s\n      deny\n    }\n  }\n}\n')
HOVERS = [
    # (document with cursor, language, what the hover must contain)
    (mark(ACME, "ai.mo|del in"), "aigw", ["`ai.model`: string", "The model asked for", "worst-case cost"]),
    (mark(ACME, "ident|ity.team"), "aigw", ["`identity`: namespace", "`team`"]),
    (mark(ACME, "w|hen ai.model"), "aigw", ["worst-case cost of `ai.model in"]),
    (mark(ACME, "token-l|imit {"), "aigw", ["action `token-limit`", "a limit", "config: `name`"]),
    (mark(ACME, "capa|city: 200_000"), "aigw", ["`capacity`", "How many units the window allows"]),
    (mark(ACME, "ra|te: 60s"), "aigw", ["duration"]),
    ('policy "p" {\n  on request {\n    rule "r" {\n      when req.url.path.starts|With("/v1")\n      deny\n    }\n  }\n}\n',
     "aigw", ["string.startsWith(string) -> bool", "starts with"]),
    ('policy "p" {\n  on request {\n    rule "r" {\n      when ai.tools.a|ll(t, t != "x")\n      deny\n    }\n  }\n}\n',
     "aigw", ["macro `all`"]),
    ('policy "p" {\n  on request {\n    rule "r" {\n      when getReq|Header("x")[0] == "y"\n      deny\n    }\n  }\n}\n',
     "aigw", ["getReqHeader(string) -> list(string)"]),
    (mark(NGROK, "type: rate-li|mit"), "yaml", ["action `rate-limit`"]),
    (LIMITED % 'limits["team-tpm"].remai|ning < 5', "aigw", ["`remaining`: double"]),
    (mark(NGROK, "bucket_k|ey: [conn"), "yaml", ["`bucket_key`: list of CEL expression"]),
    (mark(NGROK, "res.status_c|ode >= 500"), "yaml", ["`res.status_code`: int"]),
    (('on_http_request:\n  - actions:\n      - type: token-limit\n        config: {name: tpm, capacity: 10, rate: 1m}\n'
     '  - expressions: ["limits[\'t|pm\'].remaining < 5"]\n    actions: [{type: deny}]\n'),
     "yaml", ["limit `tpm`: `token-limit`", "capacity: 10"]),
    (('on_http_request:\n  - actions:\n      - type: ai-gateway\n        config:\n          model_selection:\n'
     '            stra|tegy: ["ai.models"]\n'), "yaml", ["`strategy`: list of CEL expression"]),
]


@pytest.mark.parametrize(("marked", "language", "wanted"), HOVERS, ids=[f"hover-{i}" for i in range(len(HOVERS))])
def test_hover(server: LspClient, marked: str, language: str, wanted: list[str]) -> None:
    result = ask(server, "textDocument/hover", marked, language)
    assert result is not None
    value = result["contents"]["value"]
    for part in wanted:
        assert part in value, value


def test_no_hover_on_nothing(server: LspClient) -> None:
    assert ask(server, "textDocument/hover", 'policy "p" {\n|\n}\n') is None


YAML_CONFIG = 'on_http_request:\n  - name: r\n    actions:\n      - type: %s\n        config:\n          %s\n'
REQUEST_ACTIONS = {t for t, a in ACTIONS.items() if "on_http_request" in a.PHASES}
COMPLETIONS = [
    # (document with cursor, language, labels that must be offered, labels that must not)
    (RULE % "when ai.|", "aigw", ["model", "provider", "input_tokens", "usage"], ["team"]),
    (RULE % "when identity.|", "aigw", ["team", "user", "labels"], ["model"]),
    (RULE % "when ai.usage.|", "aigw", ["output_tokens", "source"], []),
    (RULE % "when ai.model.|", "aigw", ["startsWith", "matches"], []),
    (LIMITED % 'limits["|', "aigw", ["team-tpm"], ["model"]),
    (LIMITED % 'limits["team-tpm"].|', "aigw", ["remaining", "limited", "reset_after"], ["team-tpm", "model"]),
    (RULE % 'set-vars { vars: [{ route: "x" }] }\n    }\n    rule "b" {\n      when vars.|', "aigw", ["route"], ["model"]),
    (RULE % "|", "aigw", sorted(REQUEST_ACTIONS) + ["when"], sorted(set(ACTIONS) - REQUEST_ACTIONS)),
    (RULE % "token-limit { |", "aigw", ["name", "capacity", "rate", "bucket_key"], ["status_code"]),
    (RULE % "token-limit { name: \"x\", rate: |", "aigw", ["1m", "30s"], []),
    (RULE % "usage-cap { unit: |", "aigw", ["tokens", "usd", "requests"], []),
    (RULE % "ai-gateway { providers: [{ id: \"openai\", models: [{ |", "aigw", ["display_name", "max_output_tokens"], ["providers"]),
    ('policy "p" {\n  |\n}\n', "aigw", ["default", "on request"], []),
    (YAML_CONFIG % ("rate-limit", "|"), "yaml", ["capacity", "rate", "algorithm"], ["status_code"]),
    (YAML_CONFIG % ("rate-limit", "algorithm: |"), "yaml", ["sliding_window", "token_bucket"], []),
    (YAML_CONFIG % ("ai-gateway", "providers:\n            - id: x\n              |"), "yaml", ["base_url", "api_keys", "models"], ["failover_on"]),
    ('on_http_request:\n  - name: r\n    actions:\n      - type: |\n', "yaml", sorted(REQUEST_ACTIONS),
     sorted(set(ACTIONS) - REQUEST_ACTIONS)),
    ('on_http_request:\n  - name: r\n    |\n', "yaml", ["expressions", "actions", "on_error"], []),
    ('|\n', "yaml", ["on_http_request", "default"], []),
    ('on_http_request:\n  - expressions: ["identity.|"]\n', "yaml", ["team", "tier"], []),
]


@pytest.mark.parametrize(("marked", "language", "wanted", "unwanted"), COMPLETIONS,
                         ids=[f"complete-{i}" for i in range(len(COMPLETIONS))])
def test_completion(server: LspClient, marked: str, language: str, wanted: list[str], unwanted: list[str]) -> None:
    result = ask(server, "textDocument/completion", marked, language)
    labels = {item["label"] for item in result["items"]}
    assert set(wanted) <= labels, sorted(set(wanted) - labels)
    assert not set(unwanted) & labels


def test_definition_of_a_limit(server: LspClient) -> None:
    marked = LIMITED % 'limits["team-|tpm"].remaining < 5'
    result = ask(server, "textDocument/definition", marked)
    text, _ = cursor(marked)
    line = text.splitlines()[result["range"]["start"]["line"]]
    assert line.strip().startswith("token-limit")
    assert line[result["range"]["start"]["character"]:result["range"]["end"]["character"]].strip('"') == "team-tpm"


def test_definition_of_a_var(server: LspClient) -> None:
    marked = mark(NGROK, "vars.ro|ute")
    result = ask(server, "textDocument/definition", marked, "yaml")
    text, _ = cursor(marked)
    assert text.splitlines()[result["range"]["start"]["line"]].strip().startswith("- route:")


def test_no_definition_of_an_unknown_limit(server: LspClient) -> None:
    assert ask(server, "textDocument/definition", LIMITED % 'limits["no|pe"].limited') is None


def test_document_symbols(server: LspClient) -> None:
    uri = "file:///tmp/symbols.aigw"
    server.open(uri, ACME)
    server.diagnostics(uri, 1)
    phases = server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert [p["name"] for p in phases] == ["on request", "on response"]
    rules = phases[0]["children"]
    assert [r["name"] for r in rules] == ["premium-models-for-research", "team-tokens-per-minute"]
    assert [c["name"] for c in rules[1]["children"]] == ["team-tpm"]
    assert rules[0]["selectionRange"]["start"]["line"] == ACME.splitlines().index(
        '    rule "premium-models-for-research" {')


def _format(server: LspClient, uri: str, text: str, language: str = "aigw") -> list[dict]:
    server.open(uri, text, language)
    server.diagnostics(uri, 1)
    return server.request("textDocument/formatting", {"textDocument": {"uri": uri},
                                                      "options": {"tabSize": 2, "insertSpaces": True}})


def test_formatting_is_fmt(server: LspClient) -> None:
    messy = ACME.replace("  default allow", "default    allow").replace("      deny 403", "  deny 403")
    edits = _format(server, "file:///tmp/messy.aigw", messy)
    assert len(edits) == 1 and edits[0]["newText"] == format_policy(messy)
    assert edits[0]["range"]["start"] == {"line": 0, "character": 0}
    assert _format(server, "file:///tmp/formatted.aigw", format_policy(ACME)) == []


@pytest.mark.parametrize(("text", "language", "wanted"), [
    ('policy "p" {\n  on request {\n', "aigw", "AIGW"),
    (NGROK, "yaml", "use `aigw-policy convert`"),
])
def test_formatting_refuses_what_fmt_refuses(server: LspClient, text: str, language: str, wanted: str) -> None:
    with pytest.raises(ResponseError) as error:
        _format(server, f"file:///tmp/refused-{next(_n)}.{'aigw' if language == 'aigw' else 'yaml'}", text, language)
    assert error.value.code == -32803
    assert wanted in error.value.message


def test_yaml_symbols_name_unnamed_rules_and_vars(server: LspClient) -> None:
    uri = "file:///tmp/symbols.yaml"
    server.open(uri, NGROK, "yaml")
    server.diagnostics(uri, 1)
    phases = server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    rules = phases[0]["children"]
    assert [r["name"] for r in rules] == ["office-and-vpn-only", "rule #2", "per-ip-rate-limit", "tag-and-scrub"]
    assert [c["name"] for c in rules[3]["children"]] == ["vars.route", "vars.started"]


def test_hover_on_a_var_shows_what_sets_it(server: LspClient) -> None:
    result = ask(server, "textDocument/hover", mark(NGROK, "vars.ro|ute :"), "yaml")
    assert "`vars.route`: set by `set-vars`" in result["contents"]["value"]
    assert "${req.url.path}" in result["contents"]["value"]
