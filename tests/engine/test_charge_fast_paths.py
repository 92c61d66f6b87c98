"""The limit actions' fast paths (issue #15, the decision within 2x of hand-written Python)
decide exactly as the plain ways they stand in for: the same decision (``to_dict()``, the
trace when tracing) and the same store calls, sync and async, evaluated and completed, for
generated policies of limits (each kind and unit, with and without ``cost``, eager or not,
after a ``max-tokens`` clamp) and requests (chat with and without a cap on the output and with
several choices, embeddings, unknown models):

- ``charging.FAST_ESTIMATE``: a token limit without ``cost`` adds up its estimate without
  building the ``Usage``;
- ``charging.MEMO_ESTIMATE``: a request's limits share one estimated ``Usage`` (and its
  activation entries for a ``cost``) while its counts and model stay the same;
- ``runner.QUIET_RESERVE``: an admitted request no response phase follows does not publish
  its reserve's ``limits[...]``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine import charging, runner
from aigw_policy.providers import Usage

from .logged_store import LoggedStore

FAST = [(charging, "FAST_ESTIMATE"), (charging, "MEMO_ESTIMATE"), (runner, "QUIET_RESERVE")]
"""Each fast path's switch: True takes it, False the plain way."""

LIMITS = st.sampled_from([
    'token-limit { name: "t{n}", capacity: 3000, rate: 1m, bucket_key: [identity.key] }',
    'token-limit { name: "c{n}", capacity: 900, rate: 1m, bucket_key: [identity.key, ai.model],'
    ' cost: ai.input_tokens + ai.max_output_tokens }',
    'token-limit { name: "u{n}", capacity: 2000, rate: 1h, algorithm: "token_bucket", bucket_key: [identity.key],'
    ' cost: ai.usage.total_tokens - ai.usage.cached_input_tokens * 9 / 10 }',
    'rate-limit { name: "r{n}", capacity: 2, rate: 1m, bucket_key: [identity.key] }',
    'usage-cap { name: "d{n}", limit: 5000, unit: "tokens", period: "day", bucket_key: [identity.key] }',
    'usage-cap { name: "m{n}", limit: 0.01, unit: "usd", period: "month", bucket_key: [identity.key],'
    ' on_unknown_price: "allow" }',
    'usage-cap { name: "n{n}", limit: 0.01, unit: "usd", period: "month", bucket_key: [identity.key],'
    ' enforce: false }',
    'usage-cap { name: "q{n}", limit: 3, unit: "requests", period: "day", bucket_key: [identity.key] }',
    'max-tokens { output: 100, mode: "clamp" }',
    'set-vars { vars: [{ "seen": "${identity.key}" }] }',
])
READERS = st.sampled_from([
    "",
    'rule "e" { when has(limits.t0) && limits.t0.remaining < 2000.0\n deny 429 "low" }',  # makes t0 eager
    'rule "f" { when size(limits) > 1\n add-headers { headers: { "x-n": "${string(size(limits))}" } } }',
])
RESPONSE = st.sampled_from([
    "",
    'on response { rule "h" { add-headers { headers: { "x-l": "${string(size(limits))}" } } } }',
])


@st.composite
def policies(draw: Any) -> str:
    rules = []
    for i in range(draw(st.integers(1, 4))):
        actions = "\n      ".join(a.replace("{n}", f"{i}{'b' * j}")
                                    for j, a in enumerate(draw(st.lists(LIMITS, min_size=1, max_size=2))))
        when = draw(st.sampled_from(["", "\n      when identity.key != 'k9'"]))
        rules.append(f'    rule "r{i}" {{{when}\n      {actions}\n    }}')
    rules.insert(draw(st.integers(0, len(rules))), "    " + draw(READERS))
    upstream = draw(st.sampled_from(["", "  upstream-error release\n"]))  # a release publishes nothing
    return ("policy {\n" + upstream + "  on request {\n" + "\n".join(rules) + "\n  }\n  " + draw(RESPONSE)
            + "\n}\n")


@st.composite
def requests(draw: Any) -> dict[str, Any]:
    model = draw(st.sampled_from(["gpt-4o", "gpt-4.1", "no-such-model-1"]))
    if draw(st.integers(0, 4)) == 0:
        url, body = "https://api.openai.com/v1/embeddings", {"model": "text-embedding-3-small", "input": "hello"}
    else:
        url = "https://api.openai.com/v1/chat/completions"
        body = {"model": model, "messages": [{"role": "user", "content": "hello " * draw(st.integers(1, 40))}]}
        cap = draw(st.sampled_from([None, 50, 300]))
        if cap is not None:
            body["max_tokens"] = cap
        n = draw(st.sampled_from([None, 1, 3]))
        if n is not None:
            body["n"] = n
    r: dict[str, Any] = {"now": "2026-11-26T12:00:00Z", "identity": {"key": draw(st.sampled_from(["k1", "k2", "k9"]))},
                         "request": {"method": "POST", "url": url, "body": body}}
    if draw(st.booleans()):
        r["response"] = {"status_code": draw(st.sampled_from([200, 500])),
                         "body": {"usage": {"prompt_tokens": 5, "completion_tokens": 7}}}
    return r


def _run(text: str, reqs: list[dict[str, Any]], trace: bool, expect: bool, fast: bool,
         use_async: bool) -> tuple[list[Any], list[str]]:
    old = [getattr(m, name) for m, name in FAST]
    for m, name in FAST:
        setattr(m, name, fast)
    try:
        store = LoggedStore()
        engine = ap.Engine(ap.loads(text), store=store, trace=trace)
        out = []
        for i, r in enumerate(reqs):
            kw = {"request_id": f"r{i}", "expect_response": expect}
            d = asyncio.run(engine.aevaluate(r, **kw)) if use_async else engine.evaluate(r, **kw)
            out.append(d.to_dict())
            if not d.complete and expect and d.verdict == "allow":
                done = engine.complete(f"r{i}", {"status_code": 500 if i % 2 else 200,
                                                 "body": {"usage": {"prompt_tokens": 9, "completion_tokens": 4}}})
                out.append(done.to_dict())
        return out, store.calls
    finally:
        for (m, name), was in zip(FAST, old):
            setattr(m, name, was)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), st.lists(requests(), min_size=1, max_size=5), st.booleans(), st.booleans(), st.booleans())
def test_the_fast_paths_decide_as_the_plain_ways(text: str, reqs: list[dict[str, Any]], trace: bool, expect: bool,
                                                 use_async: bool) -> None:
    assert _run(text, reqs, trace, expect, True, use_async) == _run(text, reqs, trace, expect, False, use_async)


@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**6), st.sampled_from(["provider", "estimate"]))
def test_usage_entries_are_the_names_joined(inp: int, out: int, cached: int, source: str) -> None:
    """``charging.usage_entries`` (written out) gives what joining ``ai.usage.`` to each key of
    ``Usage.to_dict`` gives, in the same order."""
    u = Usage.of(inp, out, cached_input_tokens=cached, source=source).to_dict()  # type: ignore[arg-type]
    plain: dict[str, Any] = {"ai.usage": u}
    for k, v in u.items():
        plain["ai.usage." + k] = v
    assert list(charging.usage_entries(u).items()) == list(plain.items())
