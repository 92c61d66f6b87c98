"""The YAML/JSON surface form: diagnostics with line:col, round trips, ngrok's examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw_policy.diagnostics import Diagnostics
from aigw_policy.ir import ACTIONS, Action, Expr, Policy, Rule
from aigw_policy.ir.actions import (
    Allow, CustomResponse, Deny, Log, MaxTokens, ModelAccess, RateLimit, SetModel, SetVars,
    TokenLimit, UsageCap,
)
from aigw_policy.source import Source
from aigw_policy.syntax.yaml_form import (
    ACTION_KEYS, RULE_KEYS, TOP_KEYS, dump_data, dump_json, dump_yaml, read_json, read_yaml,
)

from shared_data import NGROK, require  # noqa: E402
from work import calls
EXAMPLES = sorted((NGROK / "examples").glob("*.yaml")) if NGROK.is_dir() else []


def read(text: str, form: str = "yaml") -> tuple[Policy | None, Diagnostics]:
    diags = Diagnostics()
    reader = read_json if form == "json" else read_yaml
    return reader(Source(text, f"doc.{form}"), diags), diags


def codes(diags: Diagnostics) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in diags.sorted() if d.span]


# --- broken documents: code and line:col -----------------------------------------------

BROKEN = [
    # (form, text, [(code, line, column), ...])
    ("yaml", "on_http_request:\n  - actions:\n      - type: deny\n    name: [a\n",
     [("AIGW010", 4, 11)]),
    ("yaml", "on_http_request:\n  - actions:\n    - type: deny\n   expressions: []\n",
     [("AIGW010", 4, 4)]),
    ("yaml", "name: 'unterminated\ndefault: allow\n", [("AIGW010", 1, 7)]),
    ("yaml", "on_http_request:\n  - actions: [{type: deny}]\n  bad\n", [("AIGW010", 3, 3)]),
    ("yaml", "on_http_request: []\n---\nc: d\n", [("AIGW010", 2, 1)]),
    ("yaml", "a: &x [1]\nb: *y\n", [("AIGW010", 2, 4)]),
    ("yaml", "name: a\nname: b\n", [("AIGW013", 2, 1)]),
    ("yaml", "on_http_request:\n  - name: r\n    actions:\n      - type: deny\n"
     "        config: {status_code: 403, status_code: 401}\n", [("AIGW013", 5, 36)]),
    ("yaml", "name: x\ndefualt: deny\n", [("AIGW100", 2, 1)]),
    ("yaml", "on_http_requests:\n  - actions: [{type: deny}]\n", [("AIGW100", 1, 1)]),
    ("yaml", "name: x\non_tcp_connect:\n  - actions: [{type: deny}]\n", [("AIGW102", 2, 1)]),
    ("yaml", "on_http_request:\n  name: r\n  actions:\n    - type: deny\n", [("AIGW104", 2, 3)]),
    ("yaml", "on_http_request:\n  - name: r\n    expresions: ['true']\n    actions: [{type: deny}]\n",
     [("AIGW103", 3, 5)]),
    ("yaml", "on_http_request:\n  - name: r\n    actions: []\n", [("AIGW133", 3, 5)]),
    ("yaml", "on_http_request:\n  - name: r\n", [("AIGW133", 2, 5)]),
    ("yaml", "on_http_request:\n  - actions:\n      - config: {status_code: 403}\n",
     [("AIGW112", 3, 9)]),
    ("yaml", "on_http_request:\n  - actions:\n      - type: deny\n        confg: {status_code: 1}\n",
     [("AIGW113", 4, 9), ("AIGW123", 4, 30)]),  # `confg` read as meant: its status is checked
    ("yaml", "on_http_request:\n  - actions:\n      - type: rate-limt\n", [("AIGW110", 3, 15)]),
    ("yaml", "on_http_request:\n  - actions:\n      - type: oauth\n        config: {provider: x}\n",
     [("AIGW111", 3, 15)]),
    ("yaml", "on_http_request:\n  - actions:\n      - type: rate-limit\n        config:\n"
     "          name: x\n          capacity: 10\n          rate: 10x\n", [("AIGW124", 7, 17)]),
    ("yaml", "on_http_request:\n  - actions:\n      - type: deny\n        config:\n"
     "          status_code: 200\n", [("AIGW123", 5, 24)]),
    ("yaml", "on_http_request:\n  - actions:\n      - type: deny\n        config: {message: 12}\n",
     [("AIGW122", 4, 27)]),
    ("yaml", "default: yes\n", [("AIGW125", 1, 10)]),
    ("yaml", "name: !secret x\n", [("AIGW014", 1, 7)]),
    ("yaml", "name: !!python/object:os.system x\n", [("AIGW014", 1, 7)]),
    ("yaml", "", [("AIGW012", 1, 1)]),
    ("yaml", "# only a comment\n", [("AIGW012", 1, 1)]),
    ("yaml", "- a\n- b\n", [("AIGW012", 1, 1)]),
    ("yaml", "x: \x07\n", [("AIGW007", 1, 4)]),
    ("yaml", "apiVersion: ngrok.k8s.ngrok.com/v1alpha1\nkind: AgentEndpoint\nspec:\n"
     "  trafficPolicy:\n    targetRef: {name: tp}\n", [("AIGW100", 1, 1)]),
    ("yaml", "on_http_request:\n  - expressions: \"req.method == 'GET'\"\n"
     "    actions: [{type: allow}]\n", [("AIGW104", 2, 18)]),
    ("json", '{"name": "x",\n "default": "allow",\n}', [("AIGW011", 3, 1)]),
    ("json", '{"name": "x"\n "default": "allow"}', [("AIGW011", 2, 2)]),
    ("json", "{'name': 'x'}", [("AIGW011", 1, 2)]),
    ("json", "", [("AIGW011", 1, 1)]),
    ("json", '{"name": "x", "name": "y"}', [("AIGW013", 1, 15)]),
    ("json", '{\n  "on_http_request": {"actions": []}\n}', [("AIGW104", 2, 22), ("AIGW133", 2, 23)]),
    ("json", '{\n  "on_http_request": [\n    {"actions": [{"type": "deny", '
     '"config": {"status_code": "403"}}]}\n  ]\n}', [("AIGW122", 3, 61)]),
    ("json", "[1, 2]", [("AIGW012", 1, 1)]),
    ("json", '{\n\t"on_http_request": [{"actions": [{"type": "dney"}]}]\n}', [("AIGW110", 2, 45)]),
]


@pytest.mark.parametrize(("form", "text", "expected"), BROKEN,
                         ids=[f"{i:02d}-{c[2][0][0]}" for i, c in enumerate(BROKEN)])
def test_broken_documents_report_code_and_position(form: str, text: str,
                                                   expected: list[tuple[str, int, int]]) -> None:
    _, diags = read(text, form)
    assert codes(diags) == expected
    for d in diags:
        assert d.message and not d.message[0].isupper() and not d.message.endswith(".")


def test_every_error_in_a_file_is_reported() -> None:
    text = (
        "nmae: x\n"
        "on_http_request:\n"
        "  - name: a\n"
        "    actions:\n"
        "      - type: deny\n"
        "        config: {status_code: 99}\n"
        "  - name: b\n"
        "    expresion: ['true']\n"
        "    actions: [{type: rate-limt}]\n"
    )
    _, diags = read(text)
    assert [c for c, _, _ in codes(diags)] == ["AIGW100", "AIGW123", "AIGW103", "AIGW110"]


def test_did_you_mean_and_wrapper_help() -> None:
    _, diags = read("on_http_request:\n  - actions: [{type: rate-limt}]\n")
    assert diags.items[0].help == "did you mean `rate-limit`?"
    _, diags = read("apiVersion: v1\nkind: CloudEndpoint\nspec:\n  trafficPolicy:\n"
                    "    policy: {on_http_request: []}\n    inline: {on_http_request: []}\n")
    [d] = diags.items  # two policies: ngrok's operator reads `inline` and ignores `policy`
    assert d.code == "AIGW105" and "`spec.trafficPolicy.policy` beside it is ignored" in (d.help or "")
    _, diags = read("on_http_request:\n  - actions:\n      - type: deny\n        status_code: 401\n")
    assert "under `config:`" in (diags.items[0].help or "")


def test_empty_trailing_documents_are_no_second_document() -> None:
    for tail in ("---\n", "...\n", "...\n---\n# end\n", "---\n~\n"):
        _, diags = read("on_http_request: []\n" + tail)
        assert not diags.items, (tail, [str(d) for d in diags])


def test_unsupported_phase_is_a_warning_and_skipped() -> None:
    policy, diags = read("on_tcp_connect:\n  - actions: [{type: deny}]\n"
                         "on_http_request:\n  - actions: [{type: allow}]\n")
    assert not diags.has_errors and [d.code for d in diags] == ["AIGW102"]
    assert policy is not None and len(policy.on_http_request) == 1


# --- YAML 1.2 scalars -----------------------------------------------------------------

def test_yaml_12_scalars() -> None:
    text = (
        "on_http_request:\n"
        "  - name: on\n"
        "    actions:\n"
        "      - type: set-vars\n"
        "        config:\n"
        "          vars:\n"
        "            - a: yes\n"
        "            - b: off\n"
        "            - c: 0o17\n"
        "            - d: 1e3\n"
        "            - e: 2024-01-01\n"
        "            - f: 017\n"
        "            - g: True\n"
        "            - h: ~\n"
        "            - i: .inf\n"
        "            - on: 1:20\n"
    )
    policy, diags = read(text)
    assert not diags.has_errors, diags.sorted()
    rule = policy.on_http_request[0]
    assert rule.name == "on"
    config = rule.actions[0].config
    assert [list(v.items())[0] for v in config.vars] == [
        ("a", "yes"), ("b", "off"), ("c", 15), ("d", 1000.0), ("e", "2024-01-01"),
        ("f", 15), ("g", True), ("h", None), ("i", float("inf")), ("on", "1:20"),
    ]


def test_numeric_keys_are_strings() -> None:
    policy, diags = read("on_http_request:\n  - actions:\n      - type: set-vars\n"
                         "        config: {vars: [{200: ok}, {true: x}]}\n")
    assert not diags.has_errors
    assert policy.on_http_request[0].actions[0].config.vars == ({"200": "ok"}, {"true": "x"})


# --- spans ----------------------------------------------------------------------------

@pytest.mark.parametrize("written", [
    "req.method == 'GET'",
    "\"req.method == 'GET'\"",
    "'req.method == ''GET'''",
])
def test_expression_span_points_at_the_expression_text(written: str) -> None:
    text = f"on_http_request:\n  - expressions:\n      - {written}\n    actions: [{{type: allow}}]\n"
    policy, diags = read(text)
    assert not diags.has_errors
    [expr] = policy.on_http_request[0].expressions
    assert expr.source == "req.method == 'GET'"
    assert (expr.span.line, expr.span.column) == (3, 9 + (written[0] in "'\""))
    if written[0] != "'":
        assert text[expr.span.start:expr.span.end] == expr.source


def test_config_spans_and_rule_name_span() -> None:
    text = ("on_http_request:\n  - name: \"limits\"\n    actions:\n      - type: rate-limit\n"
            "        config:\n          name: x\n          capacity: 5\n          rate: 10s\n"
            "          bucket_key: ['conn.client_ip', identity.team]\n")
    policy, diags = read(text)
    assert not diags.has_errors
    rule = policy.on_http_request[0]
    assert (rule.name_span.line, rule.name_span.column) == (2, 12)
    action = rule.actions[0]
    assert (action.span.line, action.span.column) == (4, 9)
    for path, (line, column) in {"capacity": (7, 21), "bucket_key.0": (9, 25),
                                 "bucket_key.1": (9, 42), "capacity:key": (7, 11)}.items():
        span = action.field_spans[path]
        assert (span.line, span.column) == (line, column), path
    assert text[action.field_spans["bucket_key.0"].start:
                action.field_spans["bucket_key.0"].end] == "conn.client_ip"


def test_spans_carry_the_file_name() -> None:
    _, diags = read("defualt: deny\n")
    assert str(diags.items[0].span) == "doc.yaml:1:1"


# --- limits ---------------------------------------------------------------------------
# Bounded by work (calls, tests/work.py), not by time: the same answer on a busy machine.

DEEP_BUDGET = 200_000

@pytest.mark.parametrize("form", ["yaml", "json"])
@pytest.mark.parametrize("text", ["[" * 100_000, "a: " + "[" * 100_000, "{\"a\":" * 100_000,
                                  "- " * 50_000 + "x"])
def test_deep_nesting_is_refused_quickly(form: str, text: str) -> None:
    read("a: 1\n", form)  # the reader is set up once, not for this input
    found: list[Any] = []
    # refused at MAX_DEPTH: ~35k calls for any length (composing 100k levels takes millions)
    calls(lambda: found.extend(read(text, form)), budget=DEEP_BUDGET)
    policy, diags = found
    assert policy is None
    assert diags.has_errors


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    found: list[Any] = []
    from aigw_policy.syntax.yaml_form import MAX_NODES

    # MAX_NODES expansions (~18 calls each) and no more: 9**10 nodes would take billions
    calls(lambda: found.extend(read("\n".join(lines) + "\n")), budget=40 * MAX_NODES)
    policy, diags = found
    assert policy is None and [d.code for d in diags] == ["AIGW008"]


def test_recursive_alias_is_refused() -> None:
    policy, diags = read("name: &a [*a]\n")
    assert policy is None and [d.code for d in diags] == ["AIGW008"]


def test_huge_input_is_refused() -> None:
    from aigw_policy.syntax.yaml_form import MAX_INPUT_CHARS

    policy, diags = read("name: " + "x" * MAX_INPUT_CHARS + "\n")
    assert policy is None and [d.code for d in diags] == ["AIGW008"]


def test_small_aliases_are_fine() -> None:
    policy, diags = read("on_http_request:\n  - actions: &acts [{type: allow}]\n"
                         "  - actions: *acts\n")
    assert not diags.has_errors and len(policy.on_http_request) == 2


# --- round trips ----------------------------------------------------------------------

def _rule(name: str | None, exprs: list[str], *actions: Any, on_error: str | None = None) -> Rule:
    return Rule(
        name=name,
        expressions=tuple(Expr(source=e) for e in exprs),
        actions=tuple(Action(type=a.TYPE, config=a) for a in actions),
        on_error=on_error,
    )


CORPUS = [
    Policy(),
    Policy(name="acme", default="deny", on_error="skip"),
    Policy(
        name="acme-ai-gateway",
        default="allow",
        on_http_request=(
            _rule("premium", ["ai.model in ['gpt-4.1', 'claude-opus-4'] && identity.team != "
                              "'research'"],
                  Deny(status_code=403, message="model ${ai.model} is reserved for research")),
            _rule("tpm", [], TokenLimit(name="team-tpm", capacity=200000, rate="60s",
                                        bucket_key=("identity.team",), cost="ai.usage.total_tokens")),
            _rule(None, ["true", "yes", "1", "on"],
                  UsageCap(name="m", limit=500, unit="usd", period="month", warn_at=0.8,
                           timezone="Europe/Paris", on_unknown_price="deny", enforce=False),
                  on_error="deny"),
            _rule("r", ["leading space", "multi\nline", "tab\there", "ünïcødé ✓", ""],
                  RateLimit(name="x", capacity=1, rate="1m", algorithm="token_bucket"),
                  ModelAccess(allow=("openai/*",), deny=("*-preview",), status_code=451),
                  MaxTokens(input=1000, output=10, mode="clamp"),
                  SetModel(model="gpt-4.1-mini", provider="openai"),
                  SetVars(vars=({"a": 1}, {"b": [1.5, None, True, {"c": "${req.host}"}]})),
                  Allow()),
        ),
        on_http_response=(
            _rule("tag-slow", ["res.status_code >= 500"],
                  Log(metadata={"upstream_error": "${res.status_code}", "yes": "no"}),
                  CustomResponse(status_code=200, body="{\"ok\": true}",
                                 headers={"content-type": "application/json"})),
        ),
    ),
]


@pytest.mark.parametrize("policy", CORPUS)
def test_round_trip_yaml_and_json(policy: Policy) -> None:
    for text, form in ((dump_yaml(policy), "yaml"), (dump_json(policy), "json")):
        back, diags = read(text, form)
        assert not diags.has_errors, (text, diags.sorted())
        assert back == policy
        assert dump_data(back) == dump_data(policy)


def test_dump_data_writes_only_what_was_written_in_order() -> None:
    data = dump_data(CORPUS[2])
    assert list(data) == ["name", "default", "on_http_request", "on_http_response"]
    rule = data["on_http_request"][1]
    assert list(rule) == ["name", "actions"]
    assert rule["actions"][0] == {"type": "token-limit", "config": {
        "name": "team-tpm", "capacity": 200000, "rate": "60s",
        "bucket_key": ["identity.team"], "cost": "ai.usage.total_tokens"}}
    assert "name" not in data["on_http_request"][2]
    assert list(data["on_http_request"][2]) == ["expressions", "on_error", "actions"]
    assert data["on_http_request"][3]["actions"][-1] == {"type": "allow"}


def test_dump_yaml_is_readable() -> None:
    text = dump_yaml(CORPUS[2])
    assert "ünïcødé ✓" in text
    assert "- type: deny" in text
    assert "name: acme-ai-gateway\n" in text
    assert "'yes'" in text  # quoted only where a YAML 1.1 reader would misread it
    assert "{" not in text.split("on_http_request")[0]
    json.loads(dump_json(CORPUS[2]))


_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
_ident = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
_header = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
# a header value holds no control character but a tab (one written is refused at load, AIGW126)
_header_value = st.text(st.characters(exclude_categories=("Cs", "Cc")) | st.just("\t"), max_size=20)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=False, allow_infinity=False), _text)
_value = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)), max_leaves=6)
_configs = st.one_of(
    st.builds(Deny, status_code=st.none() | st.integers(400, 599), message=st.none() | _text),
    st.builds(CustomResponse, status_code=st.none() | st.integers(100, 599),
              body=st.none() | _text,
              headers=st.none() | st.dictionaries(_header, _header_value, max_size=3)),
    st.builds(Log, metadata=st.none() | st.dictionaries(_text, _text, max_size=3)),
    st.builds(SetVars, vars=st.lists(st.dictionaries(_text, _value, min_size=1, max_size=1),
                                     min_size=1, max_size=3).map(tuple)),
    st.builds(RateLimit, name=_text.filter(bool), capacity=st.integers(1, 10**9),
              rate=st.sampled_from(["10s", "1m", "2h", "1d", "500ms"]),
              bucket_key=st.none() | st.lists(_text.map(str.strip), min_size=1, max_size=3).map(tuple)),
    st.just(Allow()),
)
_rules = st.builds(
    Rule,
    name=st.none() | _text,
    # the reader keeps an expression's text without surrounding whitespace
    expressions=st.lists(_text.map(lambda s: Expr(source=s.strip())), max_size=3).map(tuple),
    actions=st.lists(_configs.map(lambda c: Action(type=c.TYPE, config=c)), min_size=1,
                     max_size=3).map(tuple),
    on_error=st.sampled_from([None, "deny", "skip"]),
)
_policies = st.builds(
    Policy,
    name=st.none() | _text,
    default=st.sampled_from([None, "allow", "deny"]),
    on_error=st.sampled_from([None, "deny", "skip"]),
    on_http_request=st.lists(_rules, max_size=3).map(tuple),
    on_http_response=st.lists(_rules, max_size=2).map(tuple),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_policies)
def test_round_trip_property(policy: Policy) -> None:
    for text, form in ((dump_yaml(policy), "yaml"), (dump_json(policy), "json")):
        back, diags = read(text, form)
        assert not diags.has_errors, (text, diags.sorted())
        assert back == policy, text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    for form in ("yaml", "json"):
        policy, diags = read(text, form)
        assert policy is not None or diags.has_errors


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    for form in ("yaml", "json"):
        read(text, form)


_yamlish = st.lists(st.sampled_from([
    "on_http_request:", "on_http_response:", "  - ", "    ", "actions:", "- type: deny",
    "expressions: [", "]", "{", "}", "config:", "status_code: 403", "name: x", "&a ", "*a",
    "!!str ", "\n", "'", '"', ":", "#", "---", "rate-limit", "null", "yes", "  ",
]), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_yamlish)
def test_policy_shaped_noise_never_raises(text: str) -> None:
    read(text)


@settings(max_examples=20, deadline=None)
@given(st.integers(65, 30_000), st.sampled_from(["[", "{a: ", "- ", "[{\"a\": "]))
def test_deep_nesting_property(depth: int, opener: str) -> None:
    for form in ("yaml", "json"):
        found: list[Any] = []
        calls(lambda form=form, found=found: found.extend(read(opener * depth, form)), budget=DEEP_BUDGET)
        policy, diags = found
        assert policy is None and diags.has_errors


# --- ngrok's examples -----------------------------------------------------------------

@pytest.fixture
def ngrok_examples() -> None:
    require(NGROK / "examples")


needs_examples = pytest.mark.usefixtures("ngrok_examples")


def test_ngrok_examples_are_present() -> None:
    """Guards the parametrized tests below, which would otherwise be empty without the data."""
    require(NGROK / "examples")
    assert len(EXAMPLES) >= 50


def _shape_is_plain_policy(data: Any) -> bool:
    """A traffic policy as such (not wrapped in a k8s resource), every action supported."""
    if not isinstance(data, dict) or not set(data) <= set(TOP_KEYS):
        return False
    for phase in ("on_http_request", "on_http_response"):
        rules = data.get(phase, [])
        if not isinstance(rules, list):
            return False
        for rule in rules:
            if not isinstance(rule, dict) or not set(rule) <= set(RULE_KEYS):
                return False
            actions = rule.get("actions")
            if not isinstance(actions, list) or not actions:
                return False
            for action in actions:
                if not isinstance(action, dict) or not set(action) <= set(ACTION_KEYS):
                    return False
                if action.get("type") not in ACTIONS:
                    return False
    return True


def _ngrok_valid(data: Any) -> bool:
    import jsonschema
    schema = json.loads((NGROK / "traffic-policy.schema.json").read_text())
    return not any(True for _ in jsonschema.Draft7Validator(schema).iter_errors(data))


PLACEHOLDERS = {"164be21e3de5.yaml": "AIGW126", "15f1d1803b39.yaml": "AIGW126"}
"""Examples valid by ngrok's schema whose values are placeholders we refuse with a code
(`allow: ["allowed ips here (IPv4 or IPv6)"]`, a forward-internal `url:
tls://{your-domain-here}.internal:{your-port-here}`: ngrok's schema only asks for strings)."""


def _supported(path: Path) -> bool:
    data = yaml.safe_load(path.read_text())
    return _shape_is_plain_policy(data) and _ngrok_valid(data) and path.name not in PLACEHOLDERS


def _normalized(data: Any) -> Any:
    """Drop what the IR cannot tell from absent: empty expressions, `config: {}`."""
    if isinstance(data, dict):
        return {k: _normalized(v) for k, v in data.items()
                if not (k in ("expressions", "config") and v in ([], {}, None))}
    if isinstance(data, list):
        return [_normalized(v) for v in data]
    return data


@needs_examples
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_ngrok_example_loads_without_exception(path: Path) -> None:
    text = path.read_text()
    read(text)
    data = yaml.safe_load(text)
    read(json.dumps(data), "json")


@needs_examples
def test_supported_ngrok_examples_lint_clean_and_round_trip() -> None:
    supported = [p for p in EXAMPLES if _supported(p)]
    assert len(supported) >= 4
    for path in supported:
        text = path.read_text()
        policy, diags = read(text)
        assert not diags.has_errors, (path.name, diags.sorted())
        assert dump_data(policy) == _normalized(yaml.safe_load(text)), path.name
        again, diags = read(dump_yaml(policy))
        assert again == policy and not diags.has_errors


@needs_examples
def test_ngrok_example_errors_are_explained() -> None:
    """An example with errors uses an unsupported action, is wrapped, or breaks ngrok's schema."""
    for path in EXAMPLES:
        text = path.read_text()
        _, diags = read(text)
        if not diags.has_errors:
            continue
        data = yaml.safe_load(text)
        found = {d.code for d in diags if d.is_error}
        if path.name in PLACEHOLDERS:
            assert found == {PLACEHOLDERS[path.name]}, (path.name, found)
            continue
        assert found & {"AIGW111", "AIGW100"} or not _ngrok_valid(data), (path.name, found)


# --- the JSON Schema ------------------------------------------------------------------

def test_policy_json_schema() -> None:
    import jsonschema
    from aigw_policy.schema import policy_json_schema

    schema = policy_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for policy in CORPUS:
        validator.validate(dump_data(policy))
    branches = schema["$defs"]["Action"]["oneOf"]
    assert {b["properties"]["type"]["const"] for b in branches} == set(ACTIONS)
    assert all(b.get("description") for b in branches)
    rate = schema["$defs"]["RateLimitConfig"]["properties"]["rate"]
    assert "duration" in rate["description"] and rate["pattern"]
    assert "interpolation" in schema["$defs"]["DenyConfig"]["properties"]["message"]["description"]
    assert "CEL" in schema["$defs"]["TokenLimitConfig"]["properties"]["cost"]["description"]
    bad = [
        {"on_http_request": [{"actions": [{"type": "oauth", "config": {"provider": "google"}}]}]},
        {"on_http_request": [{"actions": [{"type": "forward-internal", "config": {"url": 5}}]}]},
        {"on_http_request": [{"actions": [{"type": "deny", "config": {"status_code": 200}}]}]},
        {"on_http_request": [{"actions": [{"type": "deny", "confg": {}}]}]},
        {"on_http_request": [{"actions": []}]},
        {"on_http_request": [{"actions": [{"type": "rate-limit", "config": {"name": "x"}}]}]},
        {"on_http_request": [{"actions": [{"type": "rate-limit", "config": {
            "name": "x", "capacity": 1, "rate": "10x"}}]}]},
        {"defualt": "deny"},
    ]
    for doc in bad:
        assert not validator.is_valid(doc), doc


@needs_examples
def test_supported_ngrok_examples_validate_against_our_schema() -> None:
    import jsonschema
    from aigw_policy.schema import policy_json_schema

    validator = jsonschema.Draft202012Validator(policy_json_schema())
    supported = [p for p in EXAMPLES if _supported(p)]
    assert supported
    for path in supported:
        validator.validate(yaml.safe_load(path.read_text()))
