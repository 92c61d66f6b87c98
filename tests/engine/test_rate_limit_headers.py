"""The decision's effects carry the IETF RateLimit headers for every limit a request touched."""

import json
from pathlib import Path

import aigw_policy as ap

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _request(with_state: bool) -> dict:
    data = json.loads((EXAMPLES / "requests" / "acme-research-near-limit.json").read_text())
    if not with_state:
        data.pop("state")
    return data


def test_limited_request_has_policy_remaining_and_retry_after():
    engine = ap.Engine(ap.load(EXAMPLES / "acme-gateway.aigw"))
    d = engine.evaluate(_request(True), apply_state=True)
    assert d.status_code == 429
    headers = d.to_dict()["effects"]["rate_limit_headers"]
    assert headers["RateLimit-Policy"] == '"team-tpm";q=200000;w=60;qu="tokens"'
    assert headers["RateLimit"] == '"team-tpm";r=10;t=60'
    assert headers["Retry-After"] == d.to_dict()["response"]["headers"]["retry-after"]


def test_admitted_request_has_no_retry_after():
    engine = ap.Engine(ap.load(EXAMPLES / "acme-gateway.aigw"))
    headers = engine.evaluate(_request(False)).to_dict()["effects"]["rate_limit_headers"]
    assert "Retry-After" not in headers and headers["RateLimit"].startswith('"team-tpm";r=')


def test_no_limit_no_headers():
    engine = ap.Engine(ap.loads('policy { on request { rule { log } } }', "dsl"))
    assert "rate_limit_headers" not in engine.evaluate(_request(False)).to_dict()["effects"]


def test_a_request_larger_than_the_whole_limit_says_it_can_never_fit():
    engine = ap.Engine(ap.loads(
        'policy { on request { rule "t" { token-limit { name: "t", capacity: 100, rate: 1m } } } }',
        "dsl"))
    d = engine.evaluate({"now": "2026-11-26T12:00:00Z", "identity": {"key": "k"},
                         "request": {"method": "POST", "url": "https://api.openai.com/v1/chat/completions",
                                     "body": {"model": "gpt-4o", "max_tokens": 500, "messages": []}}})
    assert d.status_code == 429 and "can never fit" in d.reason
