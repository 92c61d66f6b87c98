"""The DSL reader: the contract example, every action in both forms, broken input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from aigw_policy.diagnostics import Diagnostics
from aigw_policy.ir import Expr, Policy, Rule
from aigw_policy.ir.ai_gateway import ApiKeyConfig, ProviderConfig, Selection
from aigw_policy.ir.actions import ACTIONS
from aigw_policy.ir.build import build_action
from aigw_policy.ir.raw import RawList, RawMap, RawScalar
from aigw_policy.source import Source
from aigw_policy.syntax.dsl import read_dsl
from work import calls

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


def read(text: str) -> tuple[Policy | None, Diagnostics]:
    diags = Diagnostics()
    return read_dsl(Source(text, "t.aigw"), diags), diags


def read_ok(text: str) -> Policy:
    policy, diags = read(text)
    assert not diags.has_errors, [str(d) for d in diags]
    assert policy is not None
    return policy


def contract_example() -> str:
    doc = (ROOT / "docs" / "dsl-contract.md").read_text()
    return re.search(r"```\n(policy .*?)```", doc, re.S).group(1)


def action(type_name: str, **config):
    items = tuple((k, None, _raw(v)) for k, v in config.items())
    built = build_action(type_name, RawMap(items), Diagnostics())
    assert built is not None
    return built


def _raw(value):
    if isinstance(value, list):
        return RawList(tuple(_raw(v) for v in value))
    if isinstance(value, dict):
        return RawMap(tuple((k, None, _raw(v)) for k, v in value.items()))
    return RawScalar(value)


def test_contract_example_lowers_to_the_expected_ir():
    policy = read_ok(contract_example())
    expected = Policy(
        name="acme-ai-gateway",
        default="allow",
        on_error="deny",
        on_http_request=(
            Rule(
                name="premium-models-for-research",
                on_error="skip",
                expressions=(Expr(source='ai.model in ["gpt-4.1", "claude-opus-4"]'),
                             Expr(source='identity.team != "research"')),
                actions=(action("deny", status_code=403,
                                message="model ${ai.model} is reserved for research"),),
            ),
            Rule(name="team-tokens-per-minute", actions=(
                action("token-limit", name="team-tpm", capacity=200_000, rate="1m",
                       bucket_key=["identity.team"]),)),
            Rule(name="monthly", actions=(
                action("usage-cap", name="team-monthly", limit=500, unit="usd",
                       period="month", bucket_key=["identity.team"], warn_at=0.8,
                       timezone="Europe/Paris"),)),
            Rule(name="downgrade",
                 expressions=(Expr(source='ai.model == "gpt-4.1" && '
                                   'limits["team-monthly"].remaining < 50.0'),),
                 actions=(action("set-model", model="gpt-4.1-mini"),)),
        ),
        on_http_response=(
            Rule(name="upstream-errors", expressions=(Expr(source="res.status_code >= 500"),),
                 actions=(action("log", metadata={"upstream_status": "${res.status_code}"}),)),
        ),
    )
    assert policy == expected


def test_spans_point_into_the_document():
    text = contract_example()
    policy = read_ok(text)
    rule = policy.on_http_request[0]
    assert text[rule.name_span.start:rule.name_span.end] == '"premium-models-for-research"'
    expr = rule.expressions[1]
    assert text[expr.span.start:expr.span.end] == expr.source
    assert (expr.span.line, expr.span.column) == (9, 12)
    deny = rule.actions[0]
    assert text[deny.span.start:deny.span.end].startswith("deny 403")
    limit = policy.on_http_request[1].actions[0]
    span = limit.span_of("capacity")
    assert text[span.start:span.end] == "200_000"


def test_optional_names_and_comments():
    policy = read_ok("// c\npolicy { # c\n on request { rule { allow } } }")
    assert policy.name is None
    assert policy.on_http_request[0].name is None
    assert policy.on_http_request[0].actions[0].type == "allow"


def test_keywords_are_still_cel_identifiers():
    policy = read_ok(
        "policy { on request { rule { when request.on == rule.default && policy.when\n"
        "  log { metadata: { on: response.deny } } } } }")
    (expr,) = policy.on_http_request[0].expressions
    assert expr.source == "request.on == rule.default && policy.when"


BLOCK_CASES = [
    ('deny { status_code: 429, message: "slow down ${vars.x}" }', "deny",
     {"status_code": 429, "message": "slow down ${vars.x}"}),
    ('custom-response { status_code: 200, body: "hi", headers: {"x-a": "b"} }',
     "custom-response", {"status_code": 200, "body": "hi", "headers": {"x-a": "b"}}),
    ("allow {}", "allow", {}),
    ("rate-limit { name: \"r\" algorithm: sliding_window capacity: 10 rate: 500ms "
     "bucket_key: [conn.client_ip] enforce: true }", "rate-limit",
     {"name": "r", "algorithm": "sliding_window", "capacity": 10, "rate": "500ms",
      "bucket_key": ("conn.client_ip",), "enforce": True}),
    ('token-limit { name: "t", capacity: 1_000_000, rate: 1h, cost: ai.tokens.total }',
     "token-limit", {"name": "t", "capacity": 1_000_000, "rate": "1h",
                     "cost": "ai.tokens.total"}),
    ('usage-cap { name: "u", limit: 12.5, unit: usd, period: 30m, warn_at: 90%, '
     "on_unknown_price: deny }", "usage-cap",
     {"name": "u", "limit": 12.5, "unit": "usd", "period": "30m", "warn_at": 0.9,
      "on_unknown_price": "deny"}),
    ('model-access { allow: ["openai/*", "gpt-4*"], status_code: 403 }', "model-access",
     {"allow": ("openai/*", "gpt-4*"), "status_code": 403}),
    ("max-tokens { input: 8_000, output: 1000, mode: clamp }", "max-tokens",
     {"input": 8000, "output": 1000, "mode": "clamp"}),
    ('set-model { model: "gpt-4.1-mini", provider: "openai" }', "set-model",
     {"model": "gpt-4.1-mini", "provider": "openai"}),
    ('add-headers { headers: {"x-team": identity.team} }', "add-headers",
     {"headers": {"x-team": "${identity.team}"}}),
    ('remove-headers { headers: ["x-secret"] }', "remove-headers",
     {"headers": ("x-secret",)}),
    ('set-vars { vars: [{tier: "gold"}] }', "set-vars", {"vars": ({"tier": "gold"},)}),
    ("log { metadata: { model: ai.model, n: 'x' } }", "log",
     {"metadata": {"model": "${ai.model}", "n": "x"}}),
    ('restrict-ips { allow: ["10.0.0.0/8"], enforce: false }', "restrict-ips",
     {"allow": ("10.0.0.0/8",), "enforce": False}),
    ('redirect { from: "^http://(.*)", to: "https://$1", status_code: 301, headers: {"x-a": "b"} }', "redirect",
     {"from": "^http://(.*)", "to": "https://$1", "status_code": 301, "headers": {"x-a": "b"}}),
    ('url-rewrite { from: "/v1/", to: "/v2/${req.host}" }', "url-rewrite", {"from": "/v1/", "to": "/v2/${req.host}"}),
    ('forward-internal { url: "https://${req.host.split(\'.\')[0]}.internal", on_error: continue }',
     "forward-internal", {"url": "https://${req.host.split('.')[0]}.internal", "on_error": "continue"}),
    ('compress-response { algorithms: ["gzip", "br"] }', "compress-response", {"algorithms": ("gzip", "br")}),
    ('basic-auth { credentials: ["alice:password123"], realm: "shop", enforce: false }', "basic-auth",
     {"credentials": ("alice:password123",), "realm": "shop", "enforce": False}),
    ("ai-gateway { providers: [ { id: \"openai\", api_keys: [ { value: "
     "\"${secrets.get('openai','k1')}\" } ] } ], model_selection: { strategy: "
     "[ ai.models.filter(m, m.provider_id == 'openai'), ai.models ] }, "
     "per_request_timeout: 30s, on_error: continue }", "ai-gateway",
     {"on_error": "continue", "per_request_timeout": "30s",
      "providers": (ProviderConfig(id="openai", api_keys=(
          ApiKeyConfig(value="${secrets.get('openai','k1')}"),)),),
      "model_selection": Selection(strategy=("ai.models.filter(m, m.provider_id == 'openai')",
                                             "ai.models"))}),
]

SHORTHAND_CASES = [
    ("deny", "deny", {}),
    ("deny 429", "deny", {"status_code": 429}),
    ('deny "no"', "deny", {"message": "no"}),
    ("deny 451 'not here: ${ai.model}'", "deny",
     {"status_code": 451, "message": "not here: ${ai.model}"}),
    ('set-model "gpt-4.1-mini"', "set-model", {"model": "gpt-4.1-mini"}),
    ("allow", "allow", {}),
    ("log", "log", {}),
]


def test_every_action_type_has_a_block_case():
    assert {t for _, t, _ in BLOCK_CASES} == set(ACTIONS)


@pytest.mark.parametrize("text, type_name, config", BLOCK_CASES + SHORTHAND_CASES,
                         ids=[c[0][:40] for c in BLOCK_CASES + SHORTHAND_CASES])
def test_actions(text, type_name, config):
    policy = read_ok("policy {\n on request {\n  rule {\n   " + text + "\n  }\n }\n}")
    (built,) = policy.on_http_request[0].actions
    assert built.type == type_name
    assert built.config.written() == config


# --- broken input ---------------------------------------------------------------------

ERROR_CASES = yaml.safe_load((DATA / "dsl_errors.yaml").read_text())


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["name"] for c in ERROR_CASES])
def test_diagnostics(case):
    _, diags = read(case["text"])
    got = [f"{d.code}@{d.span.line}:{d.span.column}" for d in diags.sorted()]
    assert got == case["want"], [str(d) for d in diags.sorted()]
    for d in diags:
        assert d.message and not d.message.endswith(".")


def test_misspelled_keywords_suggest_the_keyword():
    _, diags = read('policy { on request { rul "x" { deny } } }')
    assert diags.sorted()[0].help == "did you mean `rule`?"
    _, diags = read("policy { on requets { } }")
    assert diags.sorted()[0].help == "did you mean `request`?"


def test_good_rules_survive_broken_neighbours():
    case = next(c for c in ERROR_CASES if c["name"].startswith("several"))
    policy, _ = read(case["text"])
    assert policy is not None
    assert [r.name for r in policy.on_http_request] == ["ok"]


def test_missing_brace_names_the_opening_line():
    _, diags = read("policy {\n on request {\n  rule { deny }\n }\n")
    (d,) = diags.sorted()
    assert d.code == "AIGW002" and "line 1" in d.message and (d.span.line, d.span.column) == (1, 8)
    assert "end of the document" in d.help


def test_missing_inner_brace_is_blamed_by_indentation():
    """The `}` meant for the phase closes the rule, so the policy's `{` looks unclosed; the
    indentation says the rule's `{` (line 3) lacks its `}`, due before line 6."""
    text = 'policy {\n  on request {\n    rule "r" {\n      deny 403\n\n  }\n}\n'
    _, diags = read(text)
    (d,) = diags.sorted()
    assert d.code == "AIGW002" and (d.span.line, d.span.column) == (3, 14)
    assert "line 3" in d.message and "before line 6" in d.help


@pytest.mark.parametrize(
    "text",
    [
        "policy { on request { rule { when " + "(" * 10_000 + "a" + ")" * 10_000 + " deny } } }",
        "policy { on request { rule { when " + "-" * 20_000 + "a deny } } }",
        "policy {" + " on request { rule { deny } }" * 2_000 + " }",
        "{" * 20_000,
        "policy { on request {" + " rule { wen x }" * 3_000 + " } }",
    ],
    ids=["parens", "negations", "many-rules", "braces", "many-errors"],
)
def test_huge_or_deep_input_is_fast(text):
    read("policy { on request { rule { deny } } }")  # the parsers are built once, not for this input
    calls(lambda: read(text), budget=300 * len(text))  # linear work: ~150 calls a character today


def test_too_long_input_is_refused():
    from aigw_policy.syntax.dsl import MAX_INPUT_CHARS

    _, diags = read("#" * (MAX_INPUT_CHARS + 1))
    assert [d.code for d in diags] == ["AIGW008"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text):
    read(text)


_DSL_PIECES = st.sampled_from([
    "policy", "{", "}", "on", "request", "response", "rule", '"r"', "when", "a", "==", "=",
    "deny", "403", "'m", "log", ":", ",", "[", "]", "(", ")", "1m", "80%", "1_000",
    "default", "allow", "on-error", "skip", "\n", "#", "rate-limit", "x.y", "-",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_DSL_PIECES, max_size=40).map(" ".join))
def test_dsl_like_text_never_raises(text):
    policy, diags = read(text)
    assert policy is not None or diags.has_errors


def test_exponent_numbers_are_not_durations():
    policy = read_ok('policy { on request { rule { usage-cap { name: "u", limit: 1e+20, '
                     'unit: tokens, period: hour } } } }')
    assert policy.on_http_request[0].actions[0].config.limit == 1e20


def test_parenthesised_expression_keeps_its_text():
    policy = read_ok("policy { on request { rule { when !(a in b)\n deny } } }")
    assert policy.on_http_request[0].expressions[0].source == "!(a in b)"


def test_hash_comments_inside_a_multiline_condition_become_cel_comments():
    """The expression's text must stay valid CEL on its own (it is printed into YAML)."""
    from aigw_policy.cel.parser import parse

    text = (
        'policy {\n  on request {\n    rule "r" {\n'
        '      when ai.model == "a#b" # first\n'
        "        && identity.team != 'x#' # second\n"
        "        && true\n      deny 403\n    }\n  }\n}\n"
    )
    diags = Diagnostics()
    policy = read_dsl(Source(text), diags)
    source = policy.on_http_request[0].expressions[0].source
    assert source == (
        'ai.model == "a#b" // first\n'
        "        && identity.team != 'x#' // second\n"
        "        && true"
    )
    parse(source)
