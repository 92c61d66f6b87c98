"""A decision's rate-limit headers, written straight from its limit entries with each limit's
policy item formatted once per compiled policy, are the ones ``limits.headers.rate_limit_headers``
writes from the entries as the decision reports them (issue #15)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine.flow import LimitEntry
from aigw_policy.engine.rate_headers import entry_headers, rate_limit_headers_of

POLICY = """\
policy "h" {
  on request {
    rule "a" { rate-limit { name: "rpm", capacity: 100, rate: 60s, bucket_key: [identity.team] } }
    rule "b" { token-limit { name: "tpm", capacity: 5000, rate: 90s, bucket_key: [identity.team] } }
    rule "c" { usage-cap { name: "spend", limit: 12.5, unit: "usd", period: "month", bucket_key: [identity.team] } }
  }
}
"""
CP = ap.Engine(ap.loads(POLICY)).compiled
UNITS = {"rpm": "requests", "tpm": "tokens", "spend": "usd"}
CAPACITY = {"rpm": 100.0, "tpm": 5000.0, "spend": 12.5}

amount = st.one_of(st.none(), st.integers(-5, 10**12).map(float),
                   st.floats(-10, 1e9, allow_nan=False, allow_infinity=False))
positive = st.floats(0, 1e12, allow_nan=False, allow_infinity=False)


@st.composite
def pairs(draw: Any) -> list[tuple[LimitEntry, bool]]:
    out = []
    for name in draw(st.lists(st.sampled_from([*UNITS, "gone"]), max_size=4)):
        limit = draw(st.one_of(st.just(CAPACITY.get(name, 1.0)), positive))  # the capacity, mostly
        entry = LimitEntry(name, "r", "token-limit", "t", draw(st.sampled_from([UNITS.get(name, "requests"), "tokens"])),
                           draw(amount), limit, True, used=draw(st.one_of(st.none(), positive)),
                           remaining=draw(amount), reset_after=draw(amount),
                           outcome=draw(st.sampled_from(["ok", "ok", "warn", "limited"])),
                           includes_cost=draw(st.booleans()))
        if draw(st.booleans()):
            entry.retry_after = draw(positive)
        out.append((entry, draw(st.booleans())))
    return out


@settings(max_examples=400, deadline=None)
@given(pairs())
def test_the_entries_give_the_general_headers(got: list[tuple[LimitEntry, bool]]) -> None:
    assert entry_headers(CP, got) == rate_limit_headers_of(CP, [e.to_dict(c) for e, c in got])


def test_an_admitted_request_gets_both_headers() -> None:
    entry = LimitEntry("tpm", "b", "token-limit", "t", "tokens", 10.0, 5000.0, True, used=10.0, remaining=4990.5,
                       reset_after=1.2, includes_cost=True)
    assert entry_headers(CP, [(entry, True)]) == {"RateLimit-Policy": '"tpm";q=5000;w=90;qu="tokens"',
                                                 "RateLimit": '"tpm";r=4990.5;t=2'}
    # nothing charged: the use before this request
    assert entry_headers(CP, [(entry, False)])["RateLimit"] == '"tpm";r=5000;t=2'


def test_the_policy_items_are_formatted_once_per_policy() -> None:
    assert CP.header_items["tpm"] == ("tokens", 5000.0, '"tpm";q=5000;w=90;qu="tokens"', '"tpm"')
    assert set(CP.header_items) == set(UNITS)
