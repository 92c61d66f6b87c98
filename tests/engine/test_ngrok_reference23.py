"""ngrok's variables reference and action pages (`ngrok/ngrok-docs`, August 2026) against what
this engine loads and what a loaded document reads (twenty-third ngrok pass).

Rows are dicts with named keys (a misspelled key fails), each naming its source page.

Classes fixed in this pass (each row below failed before its fix):

- ``LOAD_ROWS``: `add-headers` and `remove-headers` may not touch `user-agent` ("You may not
  add or remove the `user-agent` header", both pages' Special Cases): such a document loaded
  here (a ``LOOSER`` row of the twenty-second pass) where ngrok refuses it; now AIGW126 where
  the name is written. The AI gateway's own `headers`, which ngrok documents for what reaches a
  provider, still set it.
- ``URL_ROWS``: `req.url.path` is "the path", `req.url.raw_path` "the un-normalized path"
  (ngrok's request variables; ngrok is Go, whose ``URL.Path`` is percent-decoded): both were
  the text as sent, so `req.url.path.startsWith('/admin')` missed `/%61dmin` and
  `req.url.path == '/café'` never held; `url.parse(...).path` likewise.
- ``URL_ROWS`` (query rows): the query is Go's ``url.ParseQuery``'s (`req.url.query_params`,
  `getQueryParam`, `hasQueryParam`, `queryString.decode`): a pair with a `;` or a bad escape is
  dropped there; here `?a=1;b=2` had `a` = `1;b=2` and `%zz` was kept as written.
- ``URL_ROWS`` (json rows): `json.encode` and `encodeJson` wrote Python's JSON (keys in
  insertion order, `1.0`, `1e+20`, non-ASCII as `\\u00e9`, `<` as is) where ngrok, in Go, writes
  ``encoding/json.Marshal``'s, so `json.encode(m) == '...'` or a header made of it differed.
- ``COOKIE_ROWS``: `req.cookies`/`res.cookies` (and the cookie macros) as Go's ``net/http``
  reads the headers: `Cookie: beta` is the cookie `beta` with the value `""` (here it was
  skipped, so `hasReqCookie('beta')` was false); a cookie whose name is no token or whose value
  holds a byte a cookie may not (a non-ASCII letter, a quote, a backslash) is dropped (here kept).
- ``NEXT_ROWS``: `basic-auth` with `enforce: false` ("continue to the next action even if basic
  authentication failed", its page) ended its rule, so the next action (a `log`, a
  `custom-response` reading `actions.ngrok.basic_auth.*`) never ran; `restrict-ips` went on.
- ``EMPTY_ROWS``: `req.trailers` and `res.trailers` are maps ngrok always has (empty for a
  message without trailers, as its headers' map); here they were absent, so `'x' in
  req.trailers` failed its rule (500 under the default `on_error`) on every request.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import aigw_policy as ap

ADD = "snippets/traffic-policy/actions/add-headers/behavior.mdx (Special Cases)"
REMOVE = "snippets/traffic-policy/actions/remove-headers/behavior.mdx (Special Cases)"
REQ_VARS = "snippets/traffic-policy/variables/req.mdx"
RES_VARS = "snippets/traffic-policy/variables/res.mdx"
MACROS = "traffic-policy/macros/index.mdx"
AI_GATEWAY = "../shared/ngrok/ai-gateway-action/reference/configuration-schema.mdx (headers)"

LOAD_KEYS = {"id", "source", "action", "config", "code"}
LOAD_ROWS: list[dict[str, Any]] = [
    {"id": "add-user-agent", "source": ADD, "action": "add-headers",
     "config": {"headers": {"user-agent": "acme-gateway/1"}}, "code": "AIGW126"},
    {"id": "add-user-agent-capitals", "source": ADD, "action": "add-headers",
     "config": {"headers": {"x-a": "1", "User-Agent": "${req.headers['x-ua'][0]}"}}, "code": "AIGW126"},
    {"id": "remove-user-agent", "source": REMOVE, "action": "remove-headers",
     "config": {"headers": ["user-agent"]}, "code": "AIGW126"},
    {"id": "remove-user-agent-capitals", "source": REMOVE, "action": "remove-headers",
     "config": {"headers": ["x-a", "USER-AGENT"]}, "code": "AIGW126"},
    # what stays: `host` is the page's other special case (it replaces), not a refusal; a
    # custom-response answers with headers of its own; the AI gateway names itself to providers
    {"id": "add-host", "source": ADD, "action": "add-headers",
     "config": {"headers": {"host": "api.internal"}}, "code": None},
    {"id": "add-user-agent-prefixed", "source": ADD, "action": "add-headers",
     "config": {"headers": {"x-user-agent": "kept"}}, "code": None},
    {"id": "custom-response-user-agent", "source": "snippets/traffic-policy/actions/custom-response/config.mdx",
     "action": "custom-response", "config": {"status_code": 200, "headers": {"user-agent": "x"}}, "code": None},
    {"id": "ai-gateway-user-agent", "source": AI_GATEWAY, "action": "ai-gateway",
     "config": {"headers": {"user-agent": "acme-gateway/1"}, "providers": [{"id": "openai"}]}, "code": None},
]


@pytest.mark.parametrize("row", LOAD_ROWS, ids=lambda r: r["id"])
def test_config_as_ngroks_page_says(row: dict[str, Any]) -> None:
    assert set(row) == LOAD_KEYS, row["id"]
    doc = json.dumps({"on_http_request": [{"actions": [{"type": row["action"], "config": row["config"]}]}]})
    _, found = ap.read(doc, format="json", cache_dir=None)
    if row["code"] is None:
        assert found == [], [str(d) for d in found]
    else:
        assert [d.code for d in found] == [row["code"]], [str(d) for d in found]
        (d,) = found
        assert d.span is not None and "user-agent" in d.message and "ai-gateway" in d.message, str(d)


def _status(phase: str, expression: str, url: str, *, before: list[dict[str, Any]] | None = None,
            extra: dict[str, Any] | None = None) -> int:
    """299 if ``expression`` holds for a GET of ``url``, 200 if not, 500 if it fails."""
    rule = {"expressions": [expression], "actions": [{"type": "custom-response", "config": {"status_code": 299}}]}
    engine = ap.Engine(ap.loads(json.dumps({phase: [*(before or []), rule]}), format="json"))
    request = {"id": "r1", "now": "2026-11-26T12:00:00Z", "conn": {"client_ip": "203.0.113.7"},
               "request": {"method": "GET", "url": url, "headers": {"user-agent": "curl/8.7.1"}},
               "response": {"status_code": 200, "headers": {"content-type": "text/plain"}, "body": "ok"},
               **(extra or {})}
    return engine.evaluate(request).status_code


HOLDS, FAILS = 299, 500
URL_KEYS = {"id", "source", "url", "expression", "want"}
_SITE = "https://example.ngrok.app"
URL_ROWS: list[dict[str, Any]] = [
    {"id": "decoded", "source": REQ_VARS + " (req.url.path)", "url": _SITE + "/caf%C3%A9",
     "expression": "req.url.path == '/café'", "want": HOLDS},
    {"id": "raw-as-sent", "source": REQ_VARS + " (req.url.raw_path: the un-normalized path)",
     "url": _SITE + "/caf%C3%A9", "expression": "req.url.raw_path == '/caf%C3%A9'", "want": HOLDS},
    {"id": "escaped-letter", "source": REQ_VARS + " (req.url.path.startsWith('/foo'))",
     "url": _SITE + "/%61dmin/users", "expression": "req.url.path.startsWith('/admin')", "want": HOLDS},
    {"id": "escaped-slash", "source": REQ_VARS, "url": _SITE + "/a%2Fb",
     "expression": "req.url.path == '/a/b' && req.url.raw_path == '/a%2Fb'", "want": HOLDS},
    {"id": "space", "source": REQ_VARS, "url": _SITE + "/my%20file.txt?x=1",
     "expression": "req.url.path == '/my file.txt'", "want": HOLDS},
    # a `+` is a space only in a query; a `%` that starts no escape stays (Go's server refuses
    # such a request line; a caller of the library gets its text back, not an error)
    {"id": "plus-kept", "source": REQ_VARS, "url": _SITE + "/a+b",
     "expression": "req.url.path == '/a+b'", "want": HOLDS},
    {"id": "bad-escape-kept", "source": REQ_VARS, "url": _SITE + "/100%zz",
     "expression": "req.url.path == '/100%zz'", "want": HOLDS},
    # what stays encoded: the URL and its URI, as Go's URL.String() and RequestURI() write them
    {"id": "url-encoded", "source": REQ_VARS + " (req.url)", "url": _SITE + "/caf%C3%A9?q=a%20b",
     "expression": "req.url == 'https://example.ngrok.app/caf%C3%A9?q=a%20b'", "want": HOLDS},
    {"id": "uri-encoded", "source": REQ_VARS + " (req.url.uri)", "url": _SITE + "/caf%C3%A9?q=a%20b",
     "expression": "req.url.uri == '/caf%C3%A9?q=a%20b'", "want": HOLDS},
    {"id": "url-parse-path", "source": MACROS + " (url.parse: a net URL map)", "url": _SITE + "/",
     "expression": "url.parse('https://ngrok.com/caf%C3%A9').path == '/café'", "want": HOLDS},
    # the query as Go's url.ParseQuery reads it: a pair with a `;` or a bad escape is dropped
    {"id": "query-semicolon", "source": REQ_VARS + " (req.url.query_params)", "url": _SITE + "/?a=1;b=2&c=3",
     "expression": "!hasQueryParam('a') && !hasQueryParam('b') && getQueryParam('c') == ['3']", "want": HOLDS},
    {"id": "query-bad-escape", "source": REQ_VARS + " (req.url.query_params)", "url": _SITE + "/?x=%zz&y=1",
     "expression": "req.url.query_params == {'y': ['1']}", "want": HOLDS},
    {"id": "query-plus-and-bare-key", "source": MACROS + " (getQueryParam)", "url": _SITE + "/?q=a+b&debug",
     "expression": "getQueryParam('q') == ['a b'] && getQueryParam('debug') == ['']", "want": HOLDS},
    # json.encode / encodeJson write what Go's encoding/json.Marshal writes (ngrok's page prints
    # json.decode's result as Go's `map[a:b]`): keys sorted, HTML characters escaped, other
    # characters kept, doubles in Go's shortest form
    {"id": "json-keys-sorted", "source": MACROS + " (json.encode)", "url": _SITE + "/",
     "expression": "json.encode({'b': 1, 'a': 2}) == '{\"a\":2,\"b\":1}' && {'d': 'e', 'c': 'f'}.encodeJson() == "
                   "'{\"c\":\"f\",\"d\":\"e\"}'", "want": HOLDS},
    {"id": "json-html-escaped", "source": MACROS + " (json.encode)", "url": _SITE + "/",
     "expression": "json.encode(['<b>&']) == '[\"\\\\u003cb\\\\u003e\\\\u0026\"]'", "want": HOLDS},
    {"id": "json-unicode-kept", "source": MACROS + " (json.encode)", "url": _SITE + "/",
     "expression": "json.encode(['café']) == '[\"café\"]'", "want": HOLDS},
    {"id": "json-doubles", "source": MACROS + " (json.encode)", "url": _SITE + "/",
     "expression": "json.encode([1.0, 2.5, 1e20, 1e21, 1e-7]) == '[1,2.5,100000000000000000000,1e+21,1e-7]'",
     "want": HOLDS},
    {"id": "query-string-decode", "source": MACROS + " (queryString.decode)", "url": _SITE + "/",
     "expression": "queryString.decode('a=1;b=2&c=%41') == {'c': ['A']} && 'x=%zz'.decodeQueryString() == {}",
     "want": HOLDS},
]


@pytest.mark.parametrize("row", URL_ROWS, ids=lambda r: r["id"])
def test_url_as_ngrok_reads_it(row: dict[str, Any]) -> None:
    assert set(row) == URL_KEYS, row["id"]
    assert _status("on_http_request", row["expression"], row["url"]) == row["want"]


def test_a_rewritten_path_is_read_decoded_too() -> None:
    rewrite = [{"actions": [{"type": "url-rewrite", "config": {"from": "/old", "to": "/caf%C3%A9"}}]}]
    assert _status("on_http_request", "req.url.path == '/café'", _SITE + "/old", before=rewrite) == HOLDS


EMPTY_KEYS = {"id", "source", "phase", "expression", "extra", "want"}
EMPTY_ROWS: list[dict[str, Any]] = [
    {"id": "req-trailers-in", "source": REQ_VARS + " (req.trailers)", "phase": "on_http_request",
     "expression": "'grpc-status' in req.trailers", "extra": None, "want": 200},
    {"id": "req-trailers-size", "source": REQ_VARS + " (req.trailers)", "phase": "on_http_request",
     "expression": "size(req.trailers) == 0", "extra": None, "want": HOLDS},
    {"id": "req-trailers-in-response-phase", "source": REQ_VARS + " (req.trailers)", "phase": "on_http_response",
     "expression": "size(req.trailers) == 0", "extra": None, "want": HOLDS},
    {"id": "res-trailers-in", "source": RES_VARS + " (res.trailers)", "phase": "on_http_response",
     "expression": "'grpc-status' in res.trailers", "extra": None, "want": 200},
    {"id": "res-trailers-size", "source": RES_VARS + " (res.trailers)", "phase": "on_http_response",
     "expression": "size(res.trailers) == 0", "extra": None, "want": HOLDS},
    # a missing key is still an error, as in ngrok's map (its page's `'Fizz' in req.trailers['baz']`)
    {"id": "req-trailers-missing-key", "source": REQ_VARS + " (req.trailers)", "phase": "on_http_request",
     "expression": "'Fizz' in req.trailers['baz']", "extra": None, "want": FAILS},
    # an embedder that has them gives them (REQUEST.json `req`)
    {"id": "req-trailers-given", "source": "docs/ngrok.md (from the embedding gateway)", "phase": "on_http_request",
     "expression": "req.trailers['x-checksum'] == ['abc']", "extra": {"req": {"trailers": {"x-checksum": ["abc"]}}},
     "want": HOLDS},
    # the response is still no part of the request phase
    {"id": "res-trailers-in-request-phase", "source": RES_VARS, "phase": "on_http_request",
     "expression": "size(res.trailers) == 0", "extra": None, "want": FAILS},
]


COOKIE_KEYS = {"id", "source", "phase", "header", "expression"}
COOKIE_ROWS: list[dict[str, Any]] = [
    # Go's readCookies: a part without `=` is a cookie whose value is ""
    {"id": "bare-name", "source": MACROS + " (hasReqCookie)", "phase": "on_http_request",
     "header": ("cookie", "beta; session=abc"),
     "expression": "hasReqCookie('beta') && getReqCookie('beta').value == '' && req.cookies['session'][0].value == 'abc'"},
    # a name that is no token, a value with a byte a cookie may not hold: dropped, the rest kept
    {"id": "bad-name", "source": REQ_VARS + " (req.cookies)", "phase": "on_http_request",
     "header": ("cookie", "my session=abc; ok=1"), "expression": "req.cookies == {'ok': [{'name': 'ok', 'value': '1'}]}"},
    {"id": "bad-value", "source": REQ_VARS + " (req.cookies)", "phase": "on_http_request",
     "header": ("cookie", "a=caf\u00e9; b=x\\\\y; c=\"q\"\"; d=\"quoted\""),
     "expression": "req.cookies.size() == 1 && req.cookies['d'][0].value == 'quoted'"},
    {"id": "set-cookie-bad-value", "source": RES_VARS + " (res.cookies)", "phase": "on_http_response",
     "header": ("set-cookie", "lang=caf\u00e9; Path=/"), "expression": "!hasResCookie('lang') && res.cookies == {}"},
]


@pytest.mark.parametrize("row", COOKIE_ROWS, ids=lambda r: r["id"])
def test_cookies_as_go_reads_them(row: dict[str, Any]) -> None:
    assert set(row) == COOKIE_KEYS, row["id"]
    rule = {"expressions": [row["expression"]], "actions": [{"type": "custom-response", "config": {"status_code": 299}}]}
    engine = ap.Engine(ap.loads(json.dumps({row["phase"]: [rule]}), format="json"))
    name, value = row["header"]
    where = "request" if name == "cookie" else "response"
    request: dict[str, Any] = {"id": "r1", "now": "2026-11-26T12:00:00Z", "conn": {"client_ip": "203.0.113.7"},
                               "request": {"method": "GET", "url": _SITE + "/", "headers": {}},
                               "response": {"status_code": 200, "headers": {}, "body": "ok"}}
    request[where]["headers"][name] = value
    assert engine.evaluate(request).status_code == HOLDS


BASIC = "snippets/traffic-policy/actions/basic-auth/config.mdx (enforce)"
_REPORT = ("${string(actions.ngrok.basic_auth.credentials.presented)} ${actions.ngrok.basic_auth.credentials.username} "
           "${string(actions.ngrok.basic_auth.credentials.authorized)}")
NEXT_KEYS = {"id", "source", "action", "headers", "status", "body"}
NEXT_ROWS: list[dict[str, Any]] = [
    {"id": "basic-auth-none-presented", "source": BASIC,
     "action": {"type": "basic-auth", "config": {"credentials": ["alice:password123"], "enforce": False}},
     "headers": {}, "status": 299, "body": "false  false"},
    {"id": "basic-auth-wrong-password", "source": BASIC,
     "action": {"type": "basic-auth", "config": {"credentials": ["alice:password123"], "enforce": False}},
     "headers": {"authorization": "Basic " + base64.b64encode(b"alice:password124").decode()},
     "status": 299, "body": "true alice false"},
    # enforced, the rule's next action never runs
    {"id": "basic-auth-enforced", "source": BASIC,
     "action": {"type": "basic-auth", "config": {"credentials": ["alice:password123"]}},
     "headers": {}, "status": 401, "body": None},
    {"id": "restrict-ips-not-enforced", "source": "snippets/traffic-policy/actions/restrict-ips/config.mdx (enforce)",
     "action": {"type": "restrict-ips", "config": {"enforce": False, "allow": ["10.0.0.0/8"]}},
     "headers": {}, "status": 299, "body": "deny"},
]


@pytest.mark.parametrize("row", NEXT_ROWS, ids=lambda r: r["id"])
def test_enforce_false_goes_on_to_the_next_action(row: dict[str, Any]) -> None:
    assert set(row) == NEXT_KEYS, row["id"]
    body = _REPORT if row["action"]["type"] == "basic-auth" else "${actions.ngrok.restrict_ips.action}"
    doc = {"on_http_request": [{"actions": [
        row["action"], {"type": "custom-response", "config": {"status_code": 299, "body": body}}]}]}
    engine = ap.Engine(ap.loads(json.dumps(doc), format="json"))
    d = engine.evaluate({"id": "r1", "now": "2026-11-26T12:00:00Z", "conn": {"client_ip": "203.0.113.7"},
                         "request": {"method": "GET", "url": _SITE + "/", "headers": row["headers"]}})
    assert d.status_code == row["status"], d.to_dict()
    if row["body"] is not None:
        assert d.to_dict()["response"]["body"] == row["body"]
        assert d.would_deny is not None  # what enforcing would have answered is still recorded


@pytest.mark.parametrize("row", EMPTY_ROWS, ids=lambda r: r["id"])
def test_a_map_ngrok_always_has(row: dict[str, Any]) -> None:
    assert set(row) == EMPTY_KEYS, row["id"]
    assert _status(row["phase"], row["expression"], _SITE + "/", extra=row["extra"]) == row["want"]
