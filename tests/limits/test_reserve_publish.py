"""What a reserve publishes for the response phase (``limits[...]``, ``actions.ngrok.rate_limit``,
``actions.aigw.*``) is what the store answered, on the straight path (every charge fits) as on
the general one (some charge over, enforced or not).

The response phase reads the reserve's values when the reservation is released
(``upstream-error release`` and an upstream error): nothing is reconciled, nothing published
again. Requests follow each other on small capacities, so the generated runs meet admitted,
shadow-denied and denied requests. Bounded by counts."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.stores import MemoryStore

_REQUEST = {"method": "POST", "url": "http://gw/v1/chat/completions",
            "headers": {"content-type": "application/json"},
            "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                     "max_tokens": 64}}


def _policy(tpm: int, rpm: int, tpm_enforce: bool, rpm_enforce: bool) -> ap.Policy:
    return ap.loads(f'''
policy "p" {{
  upstream-error release
  on request {{
    rule "tpm" {{
      token-limit {{ name: "tpm", capacity: {tpm}, rate: 60s, bucket_key: [identity.team],
                    enforce: {str(tpm_enforce).lower()} }}
    }}
    rule "rpm" {{
      rate-limit {{ name: "rpm", capacity: {rpm}, rate: 60s, bucket_key: [identity.team],
                   enforce: {str(rpm_enforce).lower()} }}
    }}
  }}
  on response {{
    rule "tell" {{
      add-headers {{ headers: {{
        "x-tpm": "${{limits['tpm'].used}} ${{limits['tpm'].remaining}} ${{limits['tpm'].outcome}}",
        "x-rpm": "${{limits['rpm'].used}} ${{limits['rpm'].remaining}} ${{limits['rpm'].outcome}}",
        "x-acts": "${{actions.ngrok.rate_limit.limited}} ${{actions.aigw.token_limit.limited}}"
      }} }}
    }}
  }}
}}''')


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(tpm=st.sampled_from([50, 150, 10_000]), rpm=st.sampled_from([1, 2, 100]),
       tpm_enforce=st.booleans(), rpm_enforce=st.booleans(), n=st.integers(1, 5))
def test_the_response_phase_reads_what_the_reserve_answered(tpm, rpm, tpm_enforce, rpm_enforce, n):
    engine = ap.Engine(_policy(tpm, rpm, tpm_enforce, rpm_enforce), store=MemoryStore())
    for i in range(n):
        rid = f"r{i}"
        first = engine.evaluate({"id": rid, "identity": {"team": "t"}, "request": _REQUEST},
                                now=1000.0 + i)
        if first.verdict != "allow":
            continue
        limits = {e["name"]: e for e in first.to_dict()["limits"]}
        done = engine.complete(rid, {"status_code": 500, "headers": {}, "body": {"error": "x"}},
                               now=1000.5 + i)
        added = done.to_dict()["effects"]["response_headers"]["add"]
        for name in ("tpm", "rpm"):
            e = limits[name]
            assert added[f"x-{name}"] == f"{_num(e['used'])} {_num(e['remaining'])} {e['outcome']}"
        flags = (str(limits["rpm"]["outcome"] == "limited").lower(),
                 str(limits["tpm"]["outcome"] == "limited").lower())
        assert added["x-acts"] == " ".join(flags)


_READERS = [  # (the response rule's text, whether the reserve's outcomes must be published)
    ("${limits['rpm'].outcome}", True),
    ("${actions.ngrok.rate_limit.limited}", True),
    ("${size(actions)}", True),
    ("${res.status_code}", False),
    ("${vars.x}", False),
]


def _reader(text: str) -> ap.Policy:
    return ap.loads(f'''
policy "p" {{
  on request {{
    rule "rpm" {{ rate-limit {{ name: "rpm", capacity: 1, rate: 60s, bucket_key: [identity.team] }} }}
    rule "v" {{ set-vars {{ vars: [{{ "x": "1" }}] }} }}
  }}
  on response {{
    rule "tell" {{ add-headers {{ headers: {{ "x-r": "{text}" }} }} }}
  }}
}}''')


def test_the_reserve_publishes_only_for_a_response_phase_that_reads_it() -> None:
    """``limits[...]`` and ``actions`` are written after the reserve only when a response-phase
    text can read one of them (``CompiledPolicy.limits_read_after``); a reader gets the
    store's answer."""
    got = {}
    for text, reads in _READERS:
        engine = ap.Engine(_reader(text), store=MemoryStore())
        got[text] = engine.compiled.limits_read_after
        d = engine.evaluate({"id": "r1", "identity": {"team": "t"}, "request": _REQUEST}, now=1000.0)
        assert d.verdict == "allow", d.reason
        done = engine.complete("r1", {"status_code": 200, "headers": {}, "body": {}}, now=1000.5)
        added = done.to_dict()["effects"]["response_headers"]["add"]["x-r"]
        if "limits" in text:
            assert added == "ok"
        elif "rate_limit" in text:
            assert added == "false"
    assert got == {text: reads for text, reads in _READERS}
