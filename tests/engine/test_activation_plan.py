"""The activation plan (issue #15): a compiled policy computes per request only the
activation entries some text of it (or the engine) reads. A decision so made equals the one
made with every entry computed (the plain path), with the full trace, for the example
policies and policies that read the headers, ``conn`` and the URL in various ways."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.engine.compile import compile_policy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALL = {"uses_url": True, "uses_time": True, "uses_content_length": True, "uses_headers": True, "uses_conn": True}

READERS = {
    "headers": "when 'x-team' in req.headers && req.headers['x-team'][0] == 'a' deny 403 \"h\"",
    "user-agent": "when req.user_agent.startsWith('curl') deny 403 \"ua ${req.user_agent}\"",
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
    plain = dataclasses.replace(planned, **ALL)
    return ap.Engine(planned, trace=True), ap.Engine(plain, trace=True)


def _same(policy: Any, requests: list[dict[str, Any]]) -> None:
    planned, plain = _engines(policy)
    for r in requests:
        got = planned.evaluate(r, expect_response=False).to_dict()
        want = plain.evaluate(r, expect_response=False).to_dict()
        assert got == want


header_names = st.sampled_from(["x-team", "User-Agent", "Content-Type", "content-length", "Host", "cookie"])
header_values = st.sampled_from(["a", "curl/8", "text/plain", "12", " 99 ", "gw.example", ""])


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
    facts = {name: (cp.uses_headers, cp.uses_conn) for name in READERS
             for cp in [compile_policy(ap.loads(_policy(READERS[name])))]}
    assert facts["none"] == (False, False)
    assert facts["conn"] == facts["restrict-ips"] == (False, True)
    assert all(facts[n] == (True, False) for n in ("headers", "user-agent", "content-type", "content-length", "host"))
