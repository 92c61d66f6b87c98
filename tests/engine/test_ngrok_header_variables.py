"""ngrok's variables that are a header read apart (env/header_parts.py), each row one of the
examples of ngrok's variable reference (https://ngrok.com/docs/traffic-policy/variables/req,
.../res), with headers that make it true, and rows where the header is absent or malformed.

A row's expression is the condition of a rule answering 299: the decision says whether it
held (299), was false (200) or failed (500). Without its header a variable has its empty
value, as Go's header reads give ngrok (ngrok's A/B example routes a request with no cookie to
its control group through `'ab_test' in req.cookies && ...`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigw_policy as ap
from aigw_policy.env.header_parts import parse_cookie, parse_set_cookie

SET_COOKIE = ("sessionId=abc; Path=/; Domain=nba.com; Expires=Wed, 21 Oct 2099 07:28:00 GMT; "
              "Max-Age=172800; Secure; HttpOnly; SameSite=Lax; Priority=High")

# (phase, headers, expression, status): 299 true, 200 false, 500 an error
ROWS: list[tuple[str, dict[str, Any], str, int]] = [
    ("req", {"content-encoding": "br"}, "req.content_encoding[0] == 'br'", 299),
    ("req", {"content-encoding": "gzip, br"}, "req.content_encoding == ['gzip', 'br']", 299),
    ("req", {"content-type": "application/json; charset=utf-8"}, "req.content_type.parameters['charset'] == 'utf-8'", 299),
    ("req", {"content-type": 'text/plain; Charset="utf-8"; q'}, "req.content_type.parameters == {'charset': 'utf-8'}", 299),
    ("req", {"content-type": "application/json"}, "size(req.content_type.parameters) == 0", 299),
    ("req", {"cookie": "sessionId=value2"}, "req.cookies['sessionId'][0].name == 'sessionId'", 299),
    ("req", {"cookie": "sessionId=value2"}, "req.cookies['sessionId'][0].value > 'value'", 299),
    ("req", {"cookie": "a=1; sessionId=x; a=2"}, "req.cookies['a'].map(c, c.value) == ['1', '2']", 299),
    ("req", {"cookie": ["a=1", "b=2"]}, "size(req.cookies) == 2", 299),
    ("req", {"cookie": "ab_test=b"}, "req.cookies['ab_test'][0].value == 'b'", 299),
    ("req", {"cookie": "session=premium-1"}, "req.cookies['session'][0].value.contains('premium')", 299),
    ("req", {"cookie": "s=1"}, "getReqCookie('s').value == '1' && hasReqCookie('s') && !hasReqCookie('t')", 299),
    # Go's readCookies: a part without `=` is a cookie valued "", one without a name is dropped
    ("req", {"cookie": "broken; =x; ok=1"}, "req.cookies.all(k, k in ['broken', 'ok']) && "
     "req.cookies['broken'][0].value == ''", 299),
    ("req", {"location": "/index.html"}, "req.location == '/index.html'", 299),
    ("req", {}, "hasReqCookie('s')", 200),
    ("req", {}, "req.cookies['s'][0].value == '1'", 500),
    ("req", {}, "req.location == '/'", 200),
    ("req", {}, "'ab_test' in req.cookies && req.cookies['ab_test'][0].value == 'A'", 200),
    ("req", {}, "size(req.cookies) == 0 && !hasReqCookie('ab_test')", 299),
    ("req", {}, "!req.user_agent.contains('Mozilla')", 299),
    ("req", {}, "req.content_type == 'application/json'", 200),
    ("req", {}, "req.content_type.raw == '' && size(req.content_type.parameters) == 0", 299),
    ("req", {}, "size(req.content_encoding) == 0", 299),
    ("res", {"content-encoding": "br"}, "res.content_encoding[0] == 'br'", 299),
    ("res", {"content-length": "12"}, "res.content_length != 0", 299),
    ("res", {"content-length": "１２"}, "has(res.content_length)", 200),
    ("res", {"content-type": "application/json; charset=utf-8"}, "res.content_type.parameters['charset'] == 'utf-8'", 299),
    ("res", {"location": "/index.html"}, "res.location == '/index.html'", 299),
    ("res", {"set-cookie": SET_COOKIE}, "res.cookies['sessionId'][0].domain == 'nba.com'", 299),
    ("res", {"set-cookie": SET_COOKIE}, "res.cookies['sessionId'][0].expires > timestamp(time.now)", 299),
    ("res", {"set-cookie": SET_COOKIE}, "res.cookies['sessionId'][0].http_only", 299),
    ("res", {"set-cookie": SET_COOKIE}, "res.cookies['sessionId'][0].max_age > duration('24h')", 299),
    ("res", {"set-cookie": SET_COOKIE}, "res.cookies['sessionId'][0].name == 'sessionId'", 299),
    ("res", {"set-cookie": SET_COOKIE}, "res.cookies['sessionId'][0].path == '/'", 299),
    ("res", {"set-cookie": SET_COOKIE}, "res.cookies['sessionId'][0].same_site == 'Lax'", 299),
    ("res", {"set-cookie": SET_COOKIE}, "res.cookies['sessionId'][0].secure", 299),
    ("res", {"set-cookie": SET_COOKIE}, "res.cookies['sessionId'][0].value > 'a'", 299),
    ("res", {"set-cookie": SET_COOKIE}, "res.cookies['sessionId'][0].unparsed_attributes == {'Priority': 'High'}", 299),
    ("res", {"set-cookie": SET_COOKIE}, "getResCookie('sessionId').secure && hasResCookie('sessionId')", 299),
    ("res", {"set-cookie": ["a=1", "b=2; Max-Age=nope; Expires=never"]},
     "size(res.cookies) == 2 && !has(res.cookies.b[0].max_age) && !has(res.cookies.b[0].expires)", 299),
    ("res", {}, "size(res.cookies) > 0", 200),
    ("res", {}, "res.content_type == '' && res.content_type.raw == '' && size(res.content_type.parameters) == 0", 299),
    ("res", {}, "res.location == '' && size(res.content_encoding) == 0", 299),
]


def _decide(phase: str, headers: dict[str, Any], expression: str) -> int:
    rule = {"expressions": [expression], "on_error": "deny",
            "actions": [{"type": "custom-response", "config": {"status_code": 299}}]}
    doc = {"on_http_request" if phase == "req" else "on_http_response": [rule]}
    engine = ap.Engine(ap.loads(json.dumps(doc), format="json"))
    request: dict[str, Any] = {"now": "2026-11-26T12:00:00Z", "request": {
        "method": "GET", "url": "https://app.example.com/", "headers": headers if phase == "req" else {}}}
    if phase == "res":
        request["response"] = {"status_code": 200, "headers": headers, "body": {}}
    return engine.evaluate(request).status_code


@pytest.mark.parametrize(("phase", "headers", "expression", "status"), ROWS, ids=[r[2] for r in ROWS])
def test_ngrok_example(phase: str, headers: dict[str, Any], expression: str, status: int) -> None:
    assert _decide(phase, headers, expression) == status


def test_a_request_that_gives_cookies_itself_wins() -> None:
    """REQUEST.json's own `req.cookies` (an embedder that parsed them) comes after the header's."""
    doc = 'on_http_request: [{expressions: ["req.cookies.s[0].value == \'mine\'"], actions: [{type: deny}]}]'
    engine = ap.Engine(ap.loads(doc, format="yaml"))
    request = {"request": {"method": "GET", "url": "https://a.example/", "headers": {"cookie": "s=header"}},
               "req": {"cookies": {"s": [{"name": "s", "value": "mine"}]}}}
    assert engine.evaluate(request).status_code == 403


@settings(max_examples=200)
@given(st.lists(st.text(max_size=40), max_size=3))
def test_any_cookie_header_parses_without_an_exception(values: list[str]) -> None:
    for parsed in (parse_cookie(values), parse_set_cookie(values)):
        for name, cookies in parsed.items():
            assert name and all(c["name"] == name and isinstance(c["value"], str) for c in cookies)
