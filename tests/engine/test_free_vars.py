"""The free-variables pass (aigw_policy.analysis.free_vars) and the compile facts drawn from it.

Tricky cases are data; the property is checked by brute force: an expression evaluated
with only the activation keys its free variables say it reads gives the same result (value
or error) as with the whole activation, and one that does not read ``time.now`` gives the
same result at any time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import aigw_policy as ap
from aigw_policy.analysis.free_vars import ACTIVATION_READS, free_vars, union
from aigw_policy.cel import CelError
from aigw_policy.env import compile_condition
from aigw_policy.cel.parser import parse
from aigw_policy.env.ngrok import ACTIVATION_FUNCTIONS
from aigw_policy.engine.compile import STAGES, Compilation, compile_policy
from aigw_policy.env.activation import activation, classify_request
from aigw_policy.env.request import Request

ROOT = Path(__file__).resolve().parents[2]

# (expression, variables it reads, variables it does not read)
CASES = [
    ("time.now > '2026'", ["time.now"], ["req.url"]),
    ("'time.now' == identity.team", ["identity.team"], ["time.now", "time"]),
    ("[1, 2].all(time, time > 0)", [], ["time.now", "time"]),
    ("['a'].exists(x, x == identity.team)", ["identity.team"], ["x"]),
    ("[1].map(time, time + 1).size() > 0 && time.now != ''", ["time.now"], []),  # bound only inside
    ("{'a': 1}.all(k, v, v > 0)", [], ["k", "v"]),
    ("[1].map(x, x > 0, x * 2) == [2]", [], ["x"]),
    ("[1].transformList(i, v, v > 0, v + i).size() == 1", [], ["i", "v"]),
    ("cel.bind(t, ai.model, t + req.method)", ["ai.model", "req.method"], ["t", "cel"]),
    ("cel.bind(t, t, t)", ["t"], []),  # the initialiser is outside the binding
    ("has(req.url.port)", ["req.url.port", "req.url"], ["req.url.path"]),
    ("limits['gpt'].remaining > 0", ["limits", "limits.gpt"], ["limits.other"]),
    ("limits[identity.key].remaining > 0", ["limits.any", "identity.key"], ["actions"]),
    ("identity.labels.?env.orValue('') == ''", ["identity.labels", "identity.labels.env"], ["req", "identity.team"]),
    ("getQueryParam('a').size() > 0", ["req.url.query_params", "req.url"], ["req.url.path", "req.headers"]),
    ("hasReqHeader('x-time-now')", ["req.headers"], ["time.now"]),
    (".time.now == ''", ["time.now"], []),
    ("req.content_length > 10", ["req.content_length"], ["req.url"]),
    ("req.host == 'x'", ["req.host"], ["req.url"]),
    ("'${req.url}' == 'x'", [], ["req.url"]),
]


@pytest.mark.parametrize("source,reads,not_reads", CASES, ids=[c[0] for c in CASES])
def test_free_variables(source: str, reads: list[str], not_reads: list[str]) -> None:
    fv = free_vars(parse(source))
    for name in reads:
        assert fv.reads(name), (source, name, fv)
    for name in not_reads:
        assert not fv.reads(name), (source, name, fv)


def test_every_function_that_reads_the_activation_says_what_it_reads() -> None:
    assert set(ACTIVATION_FUNCTIONS) == set(ACTIVATION_READS)


def _texts() -> list[str]:
    """Every CEL text of the example policies and the engine's test files."""
    out: list[str] = []
    for path in sorted((ROOT / "examples").glob("*.aigw")):
        c = Compilation(ap.load(path), "t")
        for _name, stage in STAGES[:1]:  # lower: rules, with every text parsed
            c = stage(c)
        out.extend(e.source for e in c.exprs)
    return sorted(set(out)) + [c[0] for c in CASES if "cel.bind(t, t" not in c[0]]


REQUEST = {
    "identity": {"key": "k1", "team": "research", "tier": "pro", "labels": {"env": "prod"}},
    "request": {"method": "POST", "url": "https://gw.example:8443/v1/chat/completions?a=1&b=2",
                "headers": {"x-time-now": "yes", "content-type": "application/json", "cookie": "s=1"},
                "body": {"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": "hello"}]}},
}


def _act(now: float) -> dict:
    req = Request.parse(REQUEST)
    act = activation(req, classify_request(req), "r1", now, content_length=True)
    act["limits"] = {"gpt": {"remaining": 3.0, "limited": False}}
    return act


def _outcome(fn, act: dict) -> tuple:  # type: ignore[no-untyped-def]
    try:
        return ("value", fn(act))
    except CelError as e:
        return ("error", e.code)


@pytest.mark.parametrize("source", _texts())
def test_reading_only_the_free_variables_changes_nothing(source: str) -> None:
    fn = compile_condition(source).function
    fv = free_vars(parse(source))
    full = _act(1_800_000_000.0)
    pruned = {k: v for k, v in full.items() if fv.reads(k)}
    assert _outcome(fn, pruned) == _outcome(fn, full)
    if not fv.reads("time.now"):
        assert _outcome(fn, _act(1_900_000_000.5)) == _outcome(fn, full)


POLICY = """policy {
  on request {
    rule "a" {
      when identity.team == "time.now"
      add-headers { headers: { "x-note": "time.now req.url limits" } }
      rate-limit { name: "rl", capacity: 2, rate: 1m, bucket_key: [identity.key] }
    }
    rule "b" {
      deny 403 "req.host limits ${identity.key}"
    }
  }
}
"""


def test_text_outside_cel_is_not_read() -> None:
    """`time.now`, `req.url`, `limits` in a header's plain text or a string literal are not reads."""
    cp = compile_policy(ap.loads(POLICY))
    assert (cp.activation.time_now, cp.activation.url_parts, cp.activation.content_length) == (False, False, False)
    (rl,) = [a for a in cp.request_rules[0].actions if a.limit is not None]
    assert not rl.eager


def test_reads_decide_the_compile_facts() -> None:
    text = POLICY.replace('"x-note": "time.now req.url limits"', '"x-note": "${time.now}"').replace(
        '"req.host limits ${identity.key}"', '"${limits.rl.remaining}"').replace(
        'identity.team == "time.now"', "req.url.path == '/' || req.content_length > 1")
    cp = compile_policy(ap.loads(text))
    assert (cp.activation.time_now, cp.activation.url_parts, cp.activation.content_length) == (True, True, True)
    (rl,) = [a for a in cp.request_rules[0].actions if a.limit is not None]
    assert rl.eager  # rule "b" reads its outcome


@pytest.mark.parametrize(("later", "eager"), [
    ('limits["a.b"].remaining > 0.0', {"a.b"}),  # a name with a dot: the path is compared whole
    ('limits.c.remaining > 0.0', {"c"}),
    ('has(limits.c)', {"c"}),
    ('limits[identity.key].remaining > 0.0', {"a.b", "c"}),  # which limit is not known: all
    ('"c" in limits', {"a.b", "c"}),
    ('size(actions) > 0', {"a.b", "c"}),  # the limits publish there too
    ('limits["a"].remaining > 0.0', set()),  # not `a.b`
    ('identity.team == "limits"', set()),
])
def test_a_limit_is_eager_when_a_later_text_reads_its_own_outcome(later: str, eager: set[str]) -> None:
    """Only a limit whose outcome a later request text can read is checked at once; the
    others wait for the reserve (one store call for all of them)."""
    text = f"""policy {{ on request {{
  rule "l" {{
    rate-limit {{ name: "a.b", capacity: 2, rate: 1m, bucket_key: [identity.key] }}
    token-limit {{ name: "c", capacity: 900, rate: 1m, bucket_key: [identity.key] }}
  }}
  rule "r" {{ when {later}
    deny 403 }}
}} }}"""
    cp = compile_policy(ap.loads(text))
    assert {a.limit.spec.name for a in cp.request_rules[0].actions if a.eager} == eager


def test_a_policy_without_limits_is_not_walked_for_eager_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """``mark_eager`` flags limits only: a policy of denials (the 10,000-rule shape) skips
    taking every place's reads and their running union (6-9% of a compile from the caches)."""
    from aigw_policy.engine import compile as stages

    taken = []
    real = stages._outcome_reads
    monkeypatch.setattr(stages, "_outcome_reads", lambda reads: taken.append(1) or real(reads))
    rules = "\n".join(f'rule "t{i}" {{ when identity.team == "t{i}" && limits.x.remaining > 0.0\n deny 403 }}'
                      for i in range(20))
    cp = compile_policy(ap.loads(f"policy {{ on request {{ {rules} }} }}"))
    assert len(cp.request_rules) == 20 and taken == []
    compile_policy(ap.loads(f'policy {{ on request {{ rule "l" {{ rate-limit {{ name: "x", capacity: 2, rate: 1m, '
                            f'bucket_key: [identity.key] }} }} {rules} }} }}'))
    assert len(taken) == 42  # with a limit, every place's reads: 21 rules' conditions, 21 actions


def test_response_reads_cover_response_rules_and_costs() -> None:
    text = """policy {
  on request {
    rule "t" {
      token-limit { name: "tl", capacity: 100, rate: 1m, bucket_key: [identity.key], cost: ai.usage.output_tokens }
    }
  }
  on response {
    rule "r" { when res.status_code == 200
      add-headers { headers: { "x-m": "${req.method}" } } }
  }
}
"""
    cp = compile_policy(ap.loads(text))
    fv = cp.response_reads
    assert fv.reads("ai.usage.output_tokens") and fv.reads("res.status_code") and fv.reads("req.method")
    assert not fv.reads("req.url.path") and not fv.reads("ai.prompt")
    assert union([fv]) == fv
