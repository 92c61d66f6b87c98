"""A decision's rate-limit headers, built with each limit's policy item remembered, are the
ones ``limits.headers.rate_limit_headers`` writes from the entries' outcomes (issue #15)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine.decision import _rate_limit_headers, _rate_limit_headers_of

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

amount = st.one_of(st.none(), st.integers(-5, 10**12).map(float),
                   st.floats(-10, 1e9, allow_nan=False, allow_infinity=False))
positive = st.floats(0, 1e12, allow_nan=False, allow_infinity=False)


@st.composite
def entries(draw: Any) -> list[dict[str, Any]]:
    out = []
    for name in draw(st.lists(st.sampled_from([*UNITS, "gone"]), max_size=4)):
        entry: dict[str, Any] = {
            "name": name, "key": "t", "unit": draw(st.sampled_from([UNITS.get(name, "requests"), "tokens"])),
            "cost": draw(amount), "used": draw(st.one_of(st.none(), positive)), "limit": draw(positive),
            "remaining": draw(amount), "reset_after": draw(amount),
            "outcome": draw(st.sampled_from(["ok", "ok", "warn", "limited"])),
        }
        if draw(st.booleans()):
            entry["retry_after"] = draw(positive)
        out.append(entry)
    return out


@settings(max_examples=300, deadline=None)
@given(entries())
def test_the_remembered_items_give_the_general_headers(limits: list[dict[str, Any]]) -> None:
    assert _rate_limit_headers(CP, limits) == _rate_limit_headers_of(CP, limits)
    assert _rate_limit_headers(CP, limits) == _rate_limit_headers_of(CP, limits)  # remembered now


def test_an_admitted_request_gets_both_headers() -> None:
    limits = [{"name": "tpm", "key": "t", "unit": "tokens", "cost": 10.0, "used": 10.0, "limit": 5000.0,
               "remaining": 4990.5, "reset_after": 1.2, "outcome": "ok"}]
    assert _rate_limit_headers(CP, limits) == {"RateLimit-Policy": '"tpm";q=5000;w=90;qu="tokens"',
                                               "RateLimit": '"tpm";r=4990.5;t=2'}
