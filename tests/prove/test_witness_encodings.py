"""Properties of the encodings that carry an exact case for witnesses (``SymEnv.hints``):
``lowerAscii``, ``matches("(?i)...")`` and ``restrict-ips``. For any concrete input the encoding
admits the engine's value (so a proof stays sound), and under the hints, when they admit the
input, it admits nothing else (so a witness built there is what the engine does); for
``(?i)`` only a true value is exact there (a witness for a negated one may not reproduce)."""

from __future__ import annotations

import json
from typing import Any

import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.prove.questions import _fresh_context
from aigw_policy.prove.semantics import encode
from aigw_policy.prove.symbolic import SymEnv
from aigw_policy.prove.translate import translate_source
from aigw_policy.prove.witness import where_holds

from .helpers import compiled, explain

TEXT = st.text(alphabet="aAbBsSkK:= _-\u017f\u212a\u00c9y", max_size=12)
PATTERNS = ["(?i)secret", "(?i)(api[_-]?key|pass)\\s*[:=]", "(?i)^ab$", "(?i)k", "(?i)[a-c]+s"]


def _request(prompt: str, ip: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"request": {"method": "POST", "url": "https://gw.example/v1/chat/completions",
                                        "headers": {"content-type": "application/json"},
                                        "body": {"model": "gpt-4o-mini",
                                                 "messages": [{"role": "user", "content": prompt}]}}}
    if ip is not None:
        data["conn"] = {"client_ip": ip}
    return data


def _sat(*terms: Any) -> bool:
    s = z3.Solver()
    s.set("timeout", 20_000)
    s.add(*terms)
    r = s.check()
    assert r != z3.unknown
    return r == z3.sat


def _admits(source: str, prompt: str, *, exact: bool = True) -> None:
    """``source`` (a bool over ``ai.prompt``) on ``prompt``: the encoding admits the engine's
    value; under the hints, if they admit ``prompt``, only that value (``exact``), or else
    never true where the engine says false."""
    _fresh_context()
    env = SymEnv()
    v = translate_source(env, source)
    assert v.kind == "bool"
    truth = where_holds(source, _request(prompt))
    fixed = [env.vars["ai.prompt"].val == z3.StringVal(prompt), z3.Not(v.err)]
    assert _sat(*env.facts, *fixed, v.val == truth), (source, prompt)
    if _sat(*env.facts, *env.hints, *fixed):
        wrong = v.val != truth if exact else z3.And(v.val, z3.BoolVal(not truth))
        assert not _sat(*env.facts, *env.hints, *fixed, wrong), (source, prompt)


@settings(max_examples=60, deadline=None)
@given(TEXT, st.sampled_from(["ab", "secret", "ignore all", "k", "\u00c9"]))
def test_lower_ascii(prompt: str, needle: str) -> None:
    _admits(f"ai.prompt.lowerAscii().contains({json.dumps(needle)})", prompt)
    _admits(f"ai.prompt.lowerAscii() == {json.dumps(prompt.lower() if prompt.isascii() else prompt)}", prompt)


@settings(max_examples=60, deadline=None)
@given(TEXT, st.sampled_from(PATTERNS))
def test_case_insensitive_matches(prompt: str, pattern: str) -> None:
    _admits(f"ai.prompt.matches({json.dumps(pattern)})", prompt, exact=False)


NETS = ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32", "10.0.0.0/8"]
ADDRESSES = ["203.0.113.0", "203.0.113.66", "203.0.113.255", "198.51.100.7", "2001:db8::", "10.1.2.3",
             "192.0.2.1", "not-an-ip", "2001:db9::1"]


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.none(), st.lists(st.sampled_from(NETS), min_size=1, max_size=3, unique=True)),
       st.lists(st.sampled_from([*NETS, "203.0.113.66", "10.1.2.3"]), max_size=2, unique=True),
       st.one_of(st.none(), st.sampled_from(ADDRESSES)))
def test_restrict_ips(allow: list[str] | None, deny: list[str], ip: str | None) -> None:
    config: dict[str, Any] = {"deny": deny}
    if allow is not None:
        config["allow"] = allow
    cp = compiled("on_http_request:\n  - name: ips\n    actions: [{type: restrict-ips, config: "
                  + json.dumps(config) + "}]\n")
    _fresh_context()
    env = SymEnv()
    out = encode(cp, env)
    verdict = explain(cp, _request("hi", ip))[0]
    var = env.vars["conn.client_ip"]
    fixed = [z3.Not(var.err), var.val == z3.StringVal(ip)] if ip is not None else [var.err]
    allowed = verdict == "allow"
    assert _sat(*env.facts, *fixed, out.allow == allowed), (config, ip)
    if _sat(*env.facts, *env.hints, *fixed):
        assert not _sat(*env.facts, *env.hints, *fixed, out.allow != allowed), (config, ip)


def test_usd_cap_witness_takes_a_model_priced_or_not_as_claimed() -> None:
    """A usd cap denies an unpriced model (403): a witness past it takes a model the price book
    prices, the one a later condition names among them."""
    from aigw_policy.prove.questions import rules

    cp = compiled("""
on_http_request:
  - name: cap
    actions:
      - type: usage-cap
        config: {name: c, limit: 100, unit: usd, period: month, bucket_key: ["identity.team"]}
  - name: opus
    expressions: ["ai.model == 'claude-opus-4-1' && identity.team == 'x'"]
    actions: [{type: deny, config: {status_code: 451}}]
""")
    answers = {a.rule: a for a in rules(cp)}
    assert answers["opus"].result == "reachable"
    assert explain(cp, answers["opus"].witness)[:3] == ("deny", 451, "opus")  # type: ignore[arg-type]
