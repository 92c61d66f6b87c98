"""The plain path (``Engine._plain``: a phase run with plain calls until a limit action needs
the store, each phase without an index by its straight-line runner, engine/phase_code.py)
decides exactly as the generator steps and the general runner it stands in for
(``runner.PLAIN = phases.STRAIGHT = False``):
the same decision (``to_dict()``, the trace when tracing), the same store calls, sync and
async, for generated policies (limits eager and deferred, shadow rules, failing conditions
under each ``on_error``, set-model with and without the index, response rules) and requests
(with and without a response, kept for ``complete()`` or not)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine import compile_policy, phases, runner

from .logged_store import LoggedStore

TEAMS = ["research", "growth"]
MODELS = ["gpt-4.1", "gpt-4o", "o3", "no-such-model-1"]

CONDITIONS = st.sampled_from([
    "identity.team == '{t}'", "identity.team != '{t}'", "ai.model in ['{m}', 'gpt-4o']",
    "identity.labels['env'] == 'prod'",  # fails when the request has no labels
    "size(ai.prompt) > 3", "ai.model == '{m}' || identity.team == '{t}'",
    "limits['rl0'].remaining < 2.0",  # makes limit rl0 eager (checked at once)
    "1 / size(identity.team) > 0",  # an error for an empty team
    "identity.labels['tier'] == 'x'",  # no such key: an error, always
])
ACTIONS = st.sampled_from([
    'deny 403 "no ${ai.model} for ${identity.team}"', "allow", 'set-model "gpt-4o"', "deny 451",
    'add-headers { headers: { "x-seen": "${identity.team}" } }',
    'rate-limit { name: "rl{n}", capacity: 2, rate: 1m, bucket_key: [identity.key] }',
    'token-limit { name: "tl{n}", capacity: 3000, rate: 1m, bucket_key: [identity.key] }',
    'rate-limit { name: "ru{n}", capacity: 1, rate: 1m, bucket_key: [identity.key], enforce: false }',
    "log { metadata: { m: ai.model } }",
    'custom-response { status_code: 200, body: "hi ${ai.model}" }',
    'set-vars { vars: [{ "seen": "${identity.key}" }] }',
    'max-tokens { output: 100, mode: "clamp" }',
    'deny 403 "${1 / size(identity.team)}"',  # an error in the action for an empty team
    'deny 402 "${identity.team}"',  # an empty message for an empty team: the rule's default reason
    'deny 429 "${size(identity.team)}"',  # a message of another type than string
    # a bucket key that fails without labels; a usd cap with an unknown price for one model
    "rate-limit { name: \"rf{n}\", capacity: 2, rate: 1m, bucket_key: [identity.labels['env']] }",
    'usage-cap { name: "uc{n}", limit: 1, unit: "usd", period: "day", bucket_key: [identity.key] }',
])
RESPONSE_RULES = st.sampled_from([
    "",
    'on response { rule "tag" { when res.status_code >= 400\n log { metadata: { "s": "${res.status_code}" } } } }',
    'on response { rule "hide" { when res.status_code == 200 && ai.model == "gpt-4o"\n custom-response { status_code: 502, body: "hidden" } } }',
    'on response { rule "h" { add-headers { headers: { "x-cost": "${string(res.status_code)}" } } } }',
    # conditions on the status alone: the gateway's answer skips the phase when none can match
    # it (engine/quiet_answer.py), and runs it when one can, fails or is not a bool
    'on response { rule "s" { when res.status_code == 451\n log { metadata: { "s": "${res.status_code}" } } }\n'
    '  rule "e" { when 1 / (res.status_code - 429) > 0\n add-headers { headers: { "x-e": "1" } } } }',
    'on response { rule "5xx" { when res.status_code >= 500\n custom-response { status_code: 503, body: "no" } } }',
])


@st.composite
def policies(draw: Any) -> str:
    n = draw(st.integers(1, 10))
    rules = []
    for i in range(n):
        t, m = draw(st.sampled_from(TEAMS)), draw(st.sampled_from(MODELS))
        when = "".join(f"\n      when {c.format(t=t, m=m)}" for c in draw(st.lists(CONDITIONS, max_size=2)))
        actions = "\n      ".join(a.replace("{n}", f"{i}{'b' * j}")
                                    for j, a in enumerate(draw(st.lists(ACTIONS, min_size=1, max_size=2))))
        extra = draw(st.sampled_from(["", "\n      on-error skip", "\n      on-error deny", "\n      mode shadow"]))
        rules.append(f'    rule "r{i}" {{{extra}{when}\n      {actions}\n    }}')
    default = draw(st.sampled_from(["allow", "deny"]))
    on_error = draw(st.sampled_from(["", "  on-error skip\n"]))
    on_error += draw(st.sampled_from(["", "  store-failure fail_open\n"]))
    return (f"policy {{\n  default {default}\n{on_error}  on request {{\n" + "\n".join(rules) + "\n  }\n  "
            + draw(RESPONSE_RULES) + "\n}\n")


@st.composite
def requests(draw: Any) -> dict[str, Any]:
    identity: dict[str, Any] = {"key": draw(st.sampled_from(["k1", "k2"]))}
    if draw(st.booleans()):
        identity["team"] = draw(st.sampled_from(TEAMS + [""]))
    if draw(st.booleans()):
        identity["labels"] = {"env": draw(st.sampled_from(["prod", "dev"]))}
    body = {"model": draw(st.sampled_from(MODELS)), "max_tokens": 300,
            "messages": [{"role": "user", "content": "hello"}]}
    r: dict[str, Any] = {"now": "2026-11-26T12:00:00Z", "identity": identity,
                         "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                                     "body": body}}
    if draw(st.booleans()):
        r["response"] = {"status_code": draw(st.sampled_from([200, 500])),
                         "body": {"usage": {"prompt_tokens": 5, "completion_tokens": 7}}}
    return r


def _run(compiled: Any, reqs: list[dict[str, Any]], trace: bool, expect: bool, plain: bool,
         use_async: bool, fail: tuple[str, ...] = ()) -> tuple[list[Any], list[str]]:
    old = runner.PLAIN, phases.INLINE_LIMITS, phases.STRAIGHT
    runner.PLAIN = phases.INLINE_LIMITS = phases.STRAIGHT = plain
    try:
        store = LoggedStore(fail)
        engine = ap.Engine(compiled, store=store, trace=trace)
        out = []
        for i, r in enumerate(reqs):
            kw = {"request_id": f"r{i}", "expect_response": expect}
            d = asyncio.run(engine.aevaluate(r, **kw)) if use_async else engine.evaluate(r, **kw)
            out.append(d.to_dict())
            if not d.complete and expect and d.verdict == "allow" and not fail:
                done = engine.complete(f"r{i}", {"status_code": 200, "body": {"usage": {"prompt_tokens": 9,
                                                                                        "completion_tokens": 4}}})
                out.append(done.to_dict())
        return out, store.calls
    finally:
        runner.PLAIN, phases.INLINE_LIMITS, phases.STRAIGHT = old


FAILS = st.sampled_from([(), (), ("reserve",), ("reconcile",), ("check", "reserve", "reconcile", "release")])
"""The store calls that fail (under the policy's ``store-failure``, drawn with it)."""


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), st.lists(requests(), min_size=1, max_size=4), st.booleans(), st.booleans(), st.booleans(),
       st.booleans(), FAILS)
def test_the_plain_path_decides_as_the_steps(text: str, reqs: list[dict[str, Any]], trace: bool, expect: bool,
                                             indexed: bool, use_async: bool, fail: tuple[str, ...]) -> None:
    policy = ap.loads(text)
    compiled = compile_policy(policy, index=indexed, index_min_rules=0) if indexed else compile_policy(policy)
    fast = _run(compiled, reqs, trace, expect, True, use_async, fail)
    steps = _run(compiled, reqs, trace, expect, False, use_async, fail)
    assert fast == steps


def test_the_plain_path_is_taken_and_spares_the_generators(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request whose rules reach no limit is decided without the steps; a limit that is not
    eager is charged by the plain calls too, and the sync engine asks the store for the
    reserve (and the settle at the estimate) itself: no steps (the async engine's steps start
    at the reserve, with the phase over); an eager one goes on from there in the steps (the
    rules before it are not run twice)."""
    text = '''policy { on request {
      rule "d" { when identity.team == "x"
        deny 403 "no ${ai.model}" }
      rule "t" { token-limit { name: "t", capacity: 9000, rate: 1m, bucket_key: [identity.key] } }
      EAGER
    }
    on response { rule "r" { when res.status_code >= 500
      log { metadata: { "s": "${res.status_code}" } } } } }'''
    chat = {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
            "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}
    for eager, want, awant in (("", [], [("over", True, 1)]),
                               ('rule "e" { when limits["t"].remaining > 0.0\n allow }', [("t", 0, True)],
                                [("t", 0, True)])):
        engine = ap.Engine(ap.loads(text.replace("EAGER", eager)))
        made: list[Any] = []
        steps = engine._steps

        def counted(*args: Any) -> Any:
            cur = args[-1] if len(args) == 5 else None
            flow = args[0]
            made.append((cur.rule.label, cur.at, cur.need) if cur is not None and cur.rule is not None
                        else ("over", cur.over, len(flow.charges)) if cur is not None else cur)
            return steps(*args)

        monkeypatch.setattr(engine, "_steps", counted)
        d = engine.evaluate({"identity": {"key": "k", "team": "x"}, "request": chat}, expect_response=False)
        assert (d.verdict, d.status_code, d.reason, made) == ("deny", 403, "no gpt-4o", [])
        d = engine.evaluate({"identity": {"key": "k", "team": "y"}, "request": chat}, expect_response=False)
        assert d.verdict == "allow" and d.limits[0]["outcome"] == "ok"
        # not eager: charged and reserved by the plain calls; eager: the steps start at the limit
        assert made == want
        made.clear()
        d = asyncio.run(engine.aevaluate({"identity": {"key": "k2", "team": "y"}, "request": chat},
                                         expect_response=False))
        assert d.verdict == "allow" and d.limits[0]["outcome"] == "ok"
        assert made == want  # the memory store: the async engine calls it as the sync one does
        made.clear()
        # a store with async twins of its own: the async engine's steps start at the reserve (or the eager limit)
        engine = ap.Engine(ap.loads(text.replace("EAGER", eager)), store=_OwnAsync())
        steps = engine._steps
        monkeypatch.setattr(engine, "_steps", counted)
        d = asyncio.run(engine.aevaluate({"identity": {"key": "k2", "team": "y"}, "request": chat},
                                         expect_response=False))
        assert d.verdict == "allow" and d.limits[0]["outcome"] == "ok"
        assert made == awant


class _OwnAsync(ap.stores.MemoryStore):
    """A memory store whose async methods could be its own (a subclass): awaited, not called inline."""


HAND_BACK = '''policy {
  on request {
    rule "shadow" { mode shadow
      deny 451 "would"
      add-headers { headers: { "x-after-shadow": "ran" } } }
    rule "seen" { add-headers { headers: { "x-seen": "${identity.key}" } } }
    rule "fails" { on-error ON_ERROR
      when identity.labels["env"] == "prod"
      deny 403 "prod" }
    rule "act-fails" { on-error ON_ERROR
      add-headers { headers: { "x-bad": "${string(1 / size(identity.team))}" } }
      add-headers { headers: { "x-after-bad": "ran" } } }
    rule "model" { when identity.team == "swap"
      set-model "gpt-4o" }
    rule "t" { token-limit { name: "t", capacity: 9000, rate: 1m, bucket_key: [identity.key] } }
    EAGER
    rule "last" { when identity.team == "deny"
      deny 403 "no ${ai.model}" }
  }
  on response {
    rule "limit-here" { rate-limit { name: "r", capacity: 5, rate: 1m, bucket_key: [identity.key] } }
    rule "tag" { when res.status_code >= 400
      add-headers { headers: { "x-status": "${string(res.status_code)}" } } }
  }
}'''


@pytest.mark.parametrize("on_error", ["deny", "skip"])
@pytest.mark.parametrize("eager", ["", 'rule "e" { when limits["t"].remaining > 0.0\n allow }'])
@pytest.mark.parametrize("team", ["swap", "deny", "", None])
@pytest.mark.parametrize("labels", [None, {"env": "prod"}, {"env": "dev"}])
def test_the_straight_runner_hands_back_where_the_general_runner_goes_on(on_error: str, eager: str, team: Any,
                                                                         labels: Any) -> None:
    """Each point where a phase runner hands the phase back (a failing condition under each
    ``on_error``, a failing action, an eager limit) and each thing it does itself (a shadow
    denial ends its rule, a limit in the response phase is skipped), as the general runner."""
    # a limit in the response phase is AIGW134 (an error, as ngrok refuses it) since ngrok21; the
    # runners still meet one in a policy read with errors, so it is read, not loaded
    policy, found = ap.read(HAND_BACK.replace("ON_ERROR", on_error).replace("EAGER", eager), cache_dir=None)
    assert [d.code for d in found if d.is_error] == ["AIGW134"] and policy is not None
    compiled = compile_policy(policy, index=False)
    identity: dict[str, Any] = {"key": "k"}
    if team is not None:
        identity["team"] = team
    if labels is not None:
        identity["labels"] = labels
    chat = {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
            "body": {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}}
    now = "2026-11-26T12:00:00Z"
    reqs = [{"now": now, "identity": identity, "request": chat},
            {"now": now, "identity": identity, "request": chat, "response": {"status_code": 500, "body": {}}}]
    straight = _run(compiled, reqs, False, True, True, False)
    general = _run(compiled, reqs, False, True, False, False)
    assert compiled.runners[0] is not None and compiled.runners[1] is not None  # (the first engine made them)
    assert straight == general
    assert "x-after-shadow" not in str(straight[0])  # a shadow denial ends its rule


def test_a_phase_of_many_rules_keeps_the_general_runner() -> None:
    """A policy compiled without its index gets no phase function past MAX_RULES rules (one
    of thousands of rules would cost more to compile than it saves), and decides the same."""
    from aigw_policy.engine.phase_code import MAX_RULES

    rules = "\n".join(f'    rule "r{i}" {{ when identity.team == "t{i}"\n      deny 403 "no {i}" }}'
                      for i in range(MAX_RULES + 1))
    policy = ap.loads(f"policy {{\n  on request {{\n{rules}\n  }}\n}}\n")
    small = ap.loads(f"policy {{\n  on request {{\n{rules.rsplit(chr(10) + '    rule', 1)[0]}\n  }}\n}}\n")
    big_engine = ap.Engine(compile_policy(policy, index=False))
    assert big_engine.compiled.runners == [None, None]
    assert ap.Engine(compile_policy(small, index=False)).compiled.runners[0] is not None
    d = big_engine.evaluate({"identity": {"team": f"t{MAX_RULES}"}, "request": {
        "url": "https://api.openai.com/v1/chat/completions", "body": {"model": "gpt-4o", "messages": []}}})
    assert (d.verdict, d.reason) == ("deny", f"no {MAX_RULES}")


LIMITED = '''policy {
  STORE_FAILURE
  on request {
    rule "t" { token-limit { name: "t", capacity: 900, rate: 1m, bucket_key: [identity.key] } }
    rule "h" { add-headers { headers: { "x-k": "${identity.key}" } } }
  }
  on response { rule "r" { when res.status_code >= 400
    log { metadata: { "s": "${res.status_code}" } } } }
}'''


@pytest.mark.parametrize("fail", [(), ("reserve",), ("reconcile",)])
@pytest.mark.parametrize("mode", ["", "store-failure fail_open"])
@pytest.mark.parametrize("expect", [False, True])
@pytest.mark.parametrize("use_async", [False, True])
def test_the_plain_reserve_meets_a_failing_store_as_the_steps(fail: tuple[str, ...], mode: str, expect: bool,
                                                              use_async: bool) -> None:
    """The sync engine's own reserve and settle at the estimate (a limit that is not eager,
    the phase over): admitted, limited (the third request is over 900 tokens), and each store
    call failing under either ``store-failure``: the same decisions and store calls as the
    steps."""
    compiled = compile_policy(ap.loads(LIMITED.replace("STORE_FAILURE", mode)))
    chat = {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
            "body": {"model": "gpt-4o", "max_tokens": 300, "messages": [{"role": "user", "content": "hi"}]}}
    reqs = [{"now": "2026-11-26T12:00:00Z", "identity": {"key": "k"}, "request": chat}] * 4
    fast = _run(compiled, reqs, False, expect, True, use_async, fail)
    steps = _run(compiled, reqs, False, expect, False, use_async, fail)
    assert fast == steps
    decisions = fast[0]
    if not fail and not expect:  # the cases the rows are for are reached
        assert [d["verdict"] for d in decisions] == ["allow", "allow", "deny", "deny"]
    if fail == ("reconcile",) and not expect:
        assert "could not settle the reservation" in decisions[0]["notes"][0]


DENIES = ['deny 403 "no ${ai.model} for ${identity.team}"', "deny 451", 'deny 402 "${identity.team}"',
          'deny 429 "${size(identity.team)}"', 'deny 403 "${1 / size(identity.team)}"', 'deny 403 "fixed"',
          'deny 403 "${identity.labels}"']


@pytest.mark.parametrize("on_error", ["", "on-error skip", "on-error deny", "mode shadow"])
@pytest.mark.parametrize("deny", DENIES)
def test_a_deny_written_out_decides_as_its_handler(deny: str, on_error: str) -> None:
    """The phase's function writes a ``deny`` out (``phase_code.DENY_INLINE``): the same
    decision as its handler for each kind of message (none, fixed, empty, not a string, one
    whose CEL fails) under each ``on_error`` and in shadow mode."""
    from aigw_policy.engine import phase_code

    text = (f'policy {{ on request {{ rule "d" {{ {on_error}\n when identity.key != ""\n {deny} }}\n'
            '  rule "after" { add-headers { headers: { "x-after": "1" } } } } }')
    reqs = [{"now": "2026-11-26T12:00:00Z", "identity": ident,
             "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                         "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}}}
            for ident in ({"key": "k", "team": ""}, {"key": "k", "team": "growth"}, {"key": "k"},
                          {"key": "k", "team": "t", "labels": {"env": "prod"}})]
    got = {}
    for inline in (True, False):
        old = phase_code.DENY_INLINE
        phase_code.DENY_INLINE = inline
        try:
            engine = ap.Engine(compile_policy(ap.loads(text)), store=ap.stores.MemoryStore())
            got[inline] = [engine.evaluate(r, request_id=f"r{i}", expect_response=False).to_dict()
                           for i, r in enumerate(reqs)]
            written = "_Stop('deny'" in engine.compiled.runners[0].source
        finally:
            phase_code.DENY_INLINE = old
        assert written == inline
    assert got[True] == got[False]
