"""The activation plan (issue #15): a compiled policy computes per request only the
activation entries some text of it (or the engine) reads (``CompiledPolicy.activation``). A
decision so made equals the one made with every entry computed (the plain path,
:data:`~aigw_policy.env.activation.FULL`), with the full trace, for the example policies,
policies that read the headers, ``conn`` and the URL in various ways, and generated policies;
every entry a text reads has the same value in both; what nothing reads is not built."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.analysis.free_vars import FreeVars, union
from aigw_policy.engine.compile import CompiledPolicy, compile_policy
from aigw_policy.env.activation import AI_NAMES, FULL, ActivationPlan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

READERS = {
    "headers": "when 'x-team' in req.headers && req.headers['x-team'][0] == 'a' deny 403 \"h\"",
    "user-agent": "when req.user_agent.startsWith('curl') deny 403 \"ua ${req.user_agent}\"",
    "user-agent-parts": "when req.user_agent.is_bot || req.user_agent.name == 'curl' deny 403 \"ua ${req.user_agent.os}\"",
    "content-type": "when req.content_type == 'text/plain' deny 415 \"ct\"",
    "content-length": "when req.content_length > 40 deny 413 \"cl ${string(req.content_length)}\"",
    "host": "when req.host == 'gw.example' deny 421 \"host\"",
    "conn": "when conn.client_port > 1000 || conn.geo.country_code == 'FR' deny 403 \"geo\"",
    "restrict-ips": "restrict-ips { allow: [\"203.0.113.0/24\"] }",
    "none": "when identity.team == 'x' deny 403 \"team\"",
}


def _policy(body: str) -> str:
    return f"""policy {{
  on request {{
    rule "r" {{ {body} }}
    rule "v" {{ set-vars {{ vars: [{{ "m": "${{ai.model}}" }}] }} }}
  }}
  on response {{
    rule "s" {{ when res.status_code >= 400 log {{ metadata: {{ "m": "${{vars.m}}" }} }} }}
  }}
}}
"""


def _engines(policy: Any) -> tuple[ap.Engine, ap.Engine]:
    planned = compile_policy(policy)
    plain = dataclasses.replace(planned, activation=FULL)
    return ap.Engine(planned, trace=True), ap.Engine(plain, trace=True)


def _same(policy: Any, requests: list[dict[str, Any]]) -> None:
    planned, plain = _engines(policy)
    for r in requests:
        got = planned.evaluate(r, expect_response=False).to_dict()
        want = plain.evaluate(r, expect_response=False).to_dict()
        assert got == want


header_names = st.sampled_from(["x-team", "User-Agent", "Content-Type", "content-length", "Host", "cookie"])
header_values = st.sampled_from(["a", "curl/8", "text/plain", "12", " 99 ", "gw.example", "",
                                 "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"])


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    conn = draw(st.fixed_dictionaries({}, optional={
        "client_ip": st.sampled_from(["203.0.113.9", "198.51.100.1", "x"]), "client_port": st.sampled_from([80, 4000]),
        "geo": st.fixed_dictionaries({"country_code": st.sampled_from(["FR", "DE"])})}))
    body = {"model": draw(st.sampled_from(["gpt-4o", "gpt-4.1"])),
            "messages": [{"role": "user", "content": draw(st.sampled_from(["hi", "a longer question " * 3]))}]}
    return {"id": f"r{draw(st.integers(0, 9))}", "now": "2026-11-26T12:00:00Z",
            "identity": {"key": "k", "team": draw(st.sampled_from(["x", "research"]))}, "conn": conn,
            "request": {"method": "POST", "url": draw(st.sampled_from(["https://gw.example/v1/chat/completions",
                                                                       "/v1/chat/completions"])),
                        "headers": draw(st.dictionaries(header_names, header_values, max_size=4)), "body": body}}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(READERS)), st.lists(requests(), min_size=1, max_size=4))
def test_a_planned_activation_decides_as_the_whole_one(reader: str, reqs: list[dict[str, Any]]) -> None:
    _same(ap.loads(_policy(READERS[reader])), reqs)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.aigw")), ids=lambda p: p.stem)
def test_the_examples_decide_as_with_the_whole_activation(path: Path) -> None:
    reqs = [json.loads(p.read_text()) for p in sorted((EXAMPLES / "requests").glob("*.json"))]
    _same(ap.load(path), [{k: v for k, v in r.items() if k != "state"} for r in reqs])


def test_the_plan_skips_what_no_text_reads() -> None:
    facts = {name: (cp.activation.headers, cp.activation.conn) for name in READERS
             for cp in [compile_policy(ap.loads(_policy(READERS[name])))]}
    assert facts["none"] == (False, False)
    assert facts["conn"] == facts["restrict-ips"] == (False, True)
    assert all(facts[n] == (True, False) for n in ("headers", "user-agent", "user-agent-parts", "content-type",
                                                    "content-length", "host"))
    parsed = {name for name in READERS if compile_policy(ap.loads(_policy(READERS[name]))).activation.user_agent_parts}
    assert parsed == {"user-agent", "user-agent-parts"}  # the header parsed only for a text that can read its parts


# -- generated policies: any mix of texts reading any entries, and the engine's own readers --

REQUEST_RULES = [
    'when ai.model in ["gpt-4.1"] && identity.team != "research" deny 403 "model ${ai.model}"',
    'when ai.prompt.contains("secret") deny 400 "prompt"',
    'when size(ai.tools) > 0 && identity.tier == "trial" deny 403 "tools"',
    'when ai.stream deny 400 "stream"',
    'when identity.labels["env"] == "dev" deny 403 "labels"',
    'when identity.user == "bob" deny 403 "user ${identity.user}"',
    'when identity.org == "evil" deny 403 "org"',
    'when identity.key == "k3" deny 401 "key"',
    'when req.method == "GET" deny 405 "method"',
    'when req.url.path.startsWith("/v1/embeddings") deny 403 "path"',
    'when req.url.contains("example") deny 403 "url"',
    'when req.id == "r3" deny 409 "id"',
    'when conn.client_ip == "198.51.100.1" deny 403 "ip"',
    'when endpoint.id == "ep1" deny 403 "endpoint"',
    'when time.now.startsWith("2026-11-26T12:00:03") deny 403 "time"',
    'when ai.operation == "embeddings" && ai.provider == "openai" deny 403 "operation"',
    'when ai.input_tokens + ai.max_output_tokens > 350 deny 413 "big"',
    'when ai.messages > 1 deny 400 "messages"',
    'when req.user_agent.startsWith("curl") deny 403 "ua"',
    'when req.content_length > 150 deny 413 "length"',
    'when req.host == "gw.example" deny 421 "host"',
    'when req.cookies["s"][0].value == "x" deny 403 "cookie"',
    'when "x-team" in req.headers deny 403 "header"',
    'token-limit { name: "tpm", capacity: 900, rate: 60s, bucket_key: [identity.team] }',
    'rate-limit { name: "rpm", capacity: 2, rate: 60s, bucket_key: [identity.key] }',
    'usage-cap { name: "cap", limit: 0.5, unit: "usd", period: "month", bucket_key: [identity.org] }',
    'when limits.tpm.remaining < 600 deny 429 "low"',
    'when "rpm" in limits && limits.rpm.limited deny 429 "limited"',
    'max-tokens { output: 100, mode: "clamp" }',
    'max-tokens { input: 40 }',
    'restrict-ips { deny: ["198.51.100.0/24"] }',
    'when "ngrok" in actions && "restrict_ips" in actions.ngrok deny 403 "restricted"',
    'set-vars { vars: [{ "m": "${ai.model}" }] }',
    'when "m" in vars && vars.m == "gpt-4o" deny 403 "vars"',
    'set-model { model: "gpt-4o-mini" }',
    'log { metadata: { "who": "${identity.team}", "ua": "${req.method}" } }',
    'allow',
]
RESPONSE_RULES = [
    'when res.status_code >= 500 log { metadata: { "m": "${ai.model}", "o": "${identity.org}" } }',
    'when res.status_code >= 400 && ai.prompt.contains("x") log { metadata: { "p": "${ai.prompt}" } }',
    'set-vars { vars: [{ "s": "${string(res.status_code)}" }] }',
    'log { metadata: { "u": "${string(ai.usage.total_tokens)}", "c": "${conn.client_ip}" } }',
]


def _generated(req_rules: list[int], res_rules: list[int], shard: bool) -> str:
    body = "\n".join(f'    rule "q{i}" {{ {REQUEST_RULES[k]} }}' for i, k in enumerate(req_rules))
    res = "\n".join(f'    rule "s{i}" {{ {RESPONSE_RULES[k]} }}' for i, k in enumerate(res_rules))
    head = '  shard-key identity.team\n' if shard else ""
    return f"policy {{\n{head}  on request {{\n{body}\n  }}\n  on response {{\n{res}\n  }}\n}}\n"


@st.composite
def rich_requests(draw: st.DrawFn) -> dict[str, Any]:
    identity = draw(st.fixed_dictionaries({}, optional={
        "key": st.sampled_from(["k1", "k3"]), "user": st.sampled_from(["bob", "ann"]),
        "team": st.sampled_from(["research", "web"]), "org": st.sampled_from(["acme", "evil"]),
        "tier": st.sampled_from(["trial", "pro"]),
        "labels": st.dictionaries(st.sampled_from(["env", "region"]), st.sampled_from(["dev", "prod"]), max_size=2)}))
    body: dict[str, Any] = {"model": draw(st.sampled_from(["gpt-4o", "gpt-4.1"])),
                            "messages": [{"role": "user", "content": c}
                                         for c in draw(st.lists(st.sampled_from(["hi", "a secret x"]), min_size=1,
                                                                max_size=2))]}
    if draw(st.booleans()):
        body["max_tokens"] = draw(st.sampled_from([50, 300]))
    if draw(st.booleans()):
        body["tools"] = [{"type": "function", "function": {"name": "search"}}]
    if draw(st.booleans()):
        body["stream"] = True
    url = draw(st.sampled_from(["https://gw.example/v1/chat/completions", "/v1/chat/completions",
                                "https://api.openai.com/v1/chat/completions?x=1"]))
    out: dict[str, Any] = {
        "id": f"r{draw(st.integers(0, 5))}", "now": f"2026-11-26T12:00:0{draw(st.integers(0, 5))}Z",
        "identity": identity,
        "request": {"method": draw(st.sampled_from(["POST", "post", "GET"])), "url": url,
                    "headers": draw(st.dictionaries(header_names, header_values, max_size=3)), "body": body}}
    conn = draw(st.fixed_dictionaries({}, optional={"client_ip": st.sampled_from(["198.51.100.1", "203.0.113.9"])}))
    if conn:
        out["conn"] = conn
    if draw(st.booleans()):
        out["endpoint"] = {"id": draw(st.sampled_from(["ep1", "ep2"]))}
    if draw(st.booleans()):
        out["req"] = {"cookies": {"s": [{"value": draw(st.sampled_from(["x", "y"]))}]}}
    if draw(st.booleans()):
        out["response"] = {"status_code": draw(st.sampled_from([200, 500])), "headers": {},
                           "body": {"usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}}
    return out


def _reads(cp: CompiledPolicy) -> FreeVars:
    """Everything any text of ``cp`` reads."""
    texts = [e for r in cp.all_rules() for e in r.exprs]
    texts += [e for r in cp.all_rules() for a in r.actions for e in _action_texts(a)]
    return union([*(e.reads for e in texts), *(a.reads for r in cp.all_rules() for a in r.actions),
                  *([cp.shard_key.reads] if cp.shard_key is not None else [])])


def _action_texts(action: Any) -> list[Any]:
    plan = action.limit
    return [] if plan is None else [*plan.bucket, *([plan.cost] if plan.cost is not None else [])]


def _outcome(d: Any) -> tuple[Any, ...]:
    return d.verdict, d.status_code, d.rule, d.to_dict()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, len(REQUEST_RULES) - 1), min_size=1, max_size=5, unique=True),  # (a limit once)
       st.lists(st.integers(0, len(RESPONSE_RULES) - 1), max_size=2), st.booleans(),
       st.lists(rich_requests(), min_size=1, max_size=4))
def test_generated_policies_decide_and_read_as_with_every_entry(req_rules: list[int], res_rules: list[int],
                                                               shard: bool, reqs: list[dict[str, Any]]) -> None:
    policy = ap.loads(_generated(req_rules, res_rules, shard))
    planned, plain = _engines(policy)
    reads = _reads(planned.compiled)
    for r in reqs:
        got, _, _ = planned.start(r)
        want, _, _ = plain.start(r)
        for key, value in got.act.items():  # nothing the plan builds differs
            assert key in want.act and want.act[key] == value, key
        for key, value in want.act.items():  # what any text reads is there, the same
            if reads.reads(key) and key != "ai":  # (no text reads `ai` whole: test_no_text_reads_the_ai_map)
                assert key in got.act and got.act[key] == value, key
        assert _outcome(planned.evaluate(r, expect_response=False)) == _outcome(plain.evaluate(r, expect_response=False))


def _entries(text: str, request: dict[str, Any]) -> tuple[set[str], set[str]]:
    planned, plain = _engines(ap.loads(text))
    return set(planned.start(request)[0].act), set(plain.start(request)[0].act)


FULL_REQUEST = {"id": "r1", "now": "2026-11-26T12:00:00Z",
                "identity": {"key": "k", "user": "u", "team": "t", "org": "o", "tier": "pro", "labels": {"a": "b"}},
                "conn": {"client_ip": "203.0.113.9"}, "endpoint": {"id": "ep1"}, "req": {"version": "HTTP/1.1"},
                "request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                            "headers": {"user-agent": "curl/8", "content-type": "application/json; charset=utf-8", "cookie": "s=x"},
                            "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}


def test_the_plan_leaves_out_what_nothing_reads() -> None:
    got, every = _entries('policy { on request { rule "r" { when identity.team == "x" deny 403 "no" } } }',
                          FULL_REQUEST)
    assert got == {"identity.team"}  # nothing else is read (the decision's `ai` is the classification's)
    assert len(every) >= 30  # the URL split, headers, conn, endpoint, req, time, identity, ai.*, maps
    got, _ = _entries('policy { on request { rule "r" { token-limit { name: "t", capacity: 10, rate: 60s, '
                      'bucket_key: [identity.key] } } } }', FULL_REQUEST)
    assert got == {"identity.key", "ai.max_output_tokens", "ai.input_tokens", "limits", "actions"}
    got, _ = _entries('policy { on request { rule "r" { set-vars { vars: [{ "m": "${ai.model}" }] } } } }',
                      FULL_REQUEST)
    assert got == {"ai.model", "vars"}


def test_the_example_plans_build_half_the_entries_or_less() -> None:
    for path in sorted(EXAMPLES.glob("*.aigw")):
        assert compile_policy(ap.load(path)).activation != FULL
        got, every = _entries(path.read_text(), FULL_REQUEST)
        assert len(got) <= len(every) // 2, (path.name, sorted(got))


def test_a_policy_that_reads_everything_gets_everything() -> None:
    names = [*(f"identity.{n}" for n in ("key", "user", "team", "org", "tier", "labels")),
             *(f"ai.{n}" for n in AI_NAMES), "req.method", "req.url", "req.url.path", "req.id", "req.headers",
             "req.host", "req.content_length", "req.cookies", "req.user_agent.name", "conn.client_ip", "endpoint.id", "req.version", "time.now", "vars",
             "limits", "actions"]
    text = ("policy { on request { rule \"r\" { when " + " && ".join(f"dyn({n}) != null" for n in names)
            + ' deny 403 "all" } } }')
    assert compile_policy(ap.loads(text)).activation == dataclasses.replace(FULL, ai_map=False)  # routing reads it
    got, every = _entries(text, FULL_REQUEST)
    assert got == every - {"ai"}


def test_a_routed_policy_gets_every_entry() -> None:
    """An ``ai-gateway`` action's strategies and attempts see the whole activation."""
    text = """\
on_http_request:
  - name: route
    actions:
      - type: ai-gateway
        config:
          providers:
            - id: openai
              api_keys: [{value: "${secrets.get('v','a')}", id: ka}]
              models: [{id: gpt-4o}]
"""
    cp = compile_policy(ap.loads(text, format="yaml"))
    assert cp.routed and cp.activation == dataclasses.replace(FULL, user_agent_parts=False)  # nothing reads it
    reads_ua = text.replace("on_http_request:\n", "on_http_request:\n  - name: bots\n    expressions: [req.user_agent.is_bot]\n"
                                                 "    actions: [{type: deny}]\n")
    assert compile_policy(ap.loads(reads_ua, format="yaml")).activation == FULL
    unrouted = compile_policy(ap.loads(text.replace("ai-gateway", "log").split("        config:")[0], format="yaml"))
    assert unrouted.activation != FULL


@pytest.mark.parametrize("text", ["size(ai) > 0", "ai['model'] == 'x'", "'model' in ai", "ai == {}"])
def test_no_text_reads_the_ai_map(text: str) -> None:
    """``ai`` whole is not a variable (its entries are: ``ai.model``), so a plan without routing
    leaves the map out (``ai_map=False``) and the decision builds its ``ai`` from the
    classification; what it reports is the same (the generated policies above)."""
    with pytest.raises(ap.PolicyError, match="AIGW300"):
        ap.loads(f'policy {{ on request {{ rule "r" {{ when {text}\n deny 403 }} }} }}')
    cp = compile_policy(ap.loads('policy { on request { rule "r" { when ai.model == "x"\n deny 403 } } }'))
    assert not cp.activation.ai_map
