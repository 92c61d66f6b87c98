"""ngrok's `redirect`, `url-rewrite` and `basic-auth` actions (engine/http_actions.py), as
ngrok's action reference documents them: a row per behaviour, each a small policy of our own
written from the documented config shape, a request, and what the decision must say. They
were refused (AIGW111) before; every document of ngrok's docs that uses them now loads.

The replacement follows Go's ``Regexp.ReplaceAllString`` and ``Expand`` (ngrok is written in
Go): the rows of ``GO_ROWS`` are the examples of Go's regexp documentation.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.engine.http_actions import replace_all

GO_ROWS = [  # (pattern, template, input, Go's result)
    ("a(x*)b", "T", "-ab-axxb-", "-T-T-"),
    ("a(x*)b", "$1", "-ab-axxb-", "--xx-"),
    ("a(x*)b", "$1W", "-ab-axxb-", "---"),  # `$1W` names group `1W`: none, so empty
    ("a(x*)b", "${1}W", "-ab-axxb-", "-W-xxW-"),
    ("a(?P<mid>x*)b", "[$mid]", "-ab-axxb-", "-[]-[xx]-"),
    ("a(x*)b", "$$1", "-ab-", "-$1-"),
    ("a*", "x", "baaac", "xbxcx"),  # no empty match right after a match
    ("^", "^", "abc", "^abc"),  # `^` only at the start, not at each search position
]


@pytest.mark.parametrize(("pattern", "template", "text", "want"), GO_ROWS)
def test_replacement_is_gos(pattern: str, template: str, text: str, want: str) -> None:
    assert replace_all(pattern, template, text)[0] == want


def _decide(actions: list[dict[str, Any]], url: str = "http://shop.example/v1/items?page=2",
            headers: dict[str, str] | None = None, rules: list[dict[str, Any]] | None = None) -> Any:
    doc = {"on_http_request": [{"actions": actions}, *(rules or [])]}
    engine = ap.Engine(ap.loads(json.dumps(doc), format="json"))
    return engine.evaluate({"id": "r1", "now": "2026-11-26T12:00:00Z", "conn": {"client_ip": "203.0.113.7"},
                            "request": {"method": "GET", "url": url, "headers": headers or {}}})


def _basic(user_password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user_password.encode()).decode()}


# (config, request URL, status, Location) of a `redirect`
REDIRECTS = [
    ({"from": "^http://", "to": "https://"}, "http://shop.example/a?b=1", 302, "https://shop.example/a?b=1"),
    ({"from": "/v1/(.*)", "to": "/v2/$1", "status_code": 301}, "https://s.example/v1/x?y=1", 301,
     "https://s.example/v2/x?y=1"),
    ({"to": "https://${req.host}/new${req.url.path}"}, "https://s.example/old", 302, "https://s.example/new/old"),
    ({"from": "/nothing-here/", "to": "/else/"}, "https://s.example/v1/x", 200, None),  # no match: no redirect
    ({"to": "${req.url}"}, "https://s.example/v1/x", 200, None),  # the same URL: no redirect
    ({"from": "/v1/", "to": "/v2/", "status_code": 308, "headers": {"X-Moved": "yes"}}, "https://s.example/v1/", 308,
     "https://s.example/v2/"),
]


@pytest.mark.parametrize(("config", "url", "status", "location"), REDIRECTS)
def test_redirect(config: dict[str, Any], url: str, status: int, location: str | None) -> None:
    d = _decide([{"type": "redirect", "config": config}], url)
    assert d.status_code == status
    headers = (d.to_dict().get("response") or {}).get("headers") or {}
    assert headers.get("location") == location
    if "headers" in config:
        assert headers["x-moved"] == "yes"
    if location is not None:
        assert d.kind == "redirect" and d.to_dict()["response"]["body"] == ""


def test_redirect_variables_and_url_rewrite_for_later_rules() -> None:
    later = {"expressions": ["req.url.path == '/v2/items' && req.url.query == 'page=2' && "
                             "actions.ngrok.url_rewrite.url == req.url && "
                             "actions.ngrok.url_rewrite.matches == ['/v1/']"],
             "actions": [{"type": "custom-response", "config": {"status_code": 299, "body": "${req.url}"}}]}
    d = _decide([{"type": "url-rewrite", "config": {"from": "/v1/", "to": "/v2/"}}], rules=[later])
    assert d.status_code == 299 and d.to_dict()["response"]["body"] == "http://shop.example/v2/items?page=2"
    assert d.to_dict()["effects"]["url"] == {"from": "http://shop.example/v1/items?page=2",
                                             "to": "http://shop.example/v2/items?page=2", "rule": "#1"}


def test_url_rewrite_reindexes_path_rules() -> None:
    """A rule indexed on a path prefix sees the rewritten path (the index is asked again)."""
    rules = [{"expressions": [f"req.url.path.startsWith('/p{i}/')"],
              "actions": [{"type": "custom-response", "config": {"status_code": 200 + i}}]} for i in range(1, 9)]
    d = _decide([{"type": "url-rewrite", "config": {"from": "/v1/", "to": "/p7/"}}], rules=rules)
    assert d.status_code == 207


def test_a_from_that_is_no_regex_fails_the_rule() -> None:
    d = _decide([{"type": "url-rewrite", "config": {"from": "${'(' + 'x'}", "to": "y"}}])
    assert d.status_code == 500 and "invalid regex" in d.reason


# (credentials, Authorization, status, published username/authorized)
BASIC = [
    (["alice:password123"], _basic("alice:password123"), 200, ("alice", True)),
    (["alice:password123"], _basic("alice:password124"), 401, ("alice", False)),
    (["alice:password123"], {}, 401, ("", False)),
    (["alice:password123", "bob:${'hunter' + '2hunter2'}"], _basic("bob:hunter2hunter2"), 200, ("bob", True)),
    (["alice:pass:word123"], _basic("alice:pass:word123"), 200, ("alice", True)),  # the first `:` splits
    (["alice:password123"], {"Authorization": "Bearer abc"}, 401, ("", False)),
    (["alice:password123"], {"Authorization": "Basic !!!"}, 401, ("", False)),
]


@pytest.mark.parametrize(("credentials", "headers", "status", "published"), BASIC)
def test_basic_auth(credentials: list[str], headers: dict[str, str], status: int, published: tuple[str, bool]) -> None:
    seen = {"expressions": [f"actions.ngrok.basic_auth.credentials.username == '{published[0]}' && "
                            f"actions.ngrok.basic_auth.credentials.authorized == {str(published[1]).lower()}"],
            "actions": [{"type": "add-headers", "config": {"headers": {"x-seen": "1"}}}]}
    d = _decide([{"type": "basic-auth", "config": {"credentials": credentials, "realm": 'shop "east"'}}],
                headers=headers, rules=[seen])
    assert d.status_code == status
    if status == 401:
        assert d.to_dict()["response"]["headers"]["www-authenticate"] == 'Basic realm="shop \\"east\\""'
    else:
        assert d.to_dict()["effects"]["request_headers"]["add"] == {"x-seen": "1"}


def test_basic_auth_not_enforced_records_and_goes_on() -> None:
    d = _decide([{"type": "basic-auth", "config": {"credentials": ["alice:password123"], "enforce": False}}])
    assert d.status_code == 200 and d.would_deny["status"] == 401


# (action, config, code) of configs ngrok refuses, each with a code and a place
REFUSED = [
    ("redirect", {"from": "/a"}, "AIGW121"),  # `to` is required
    ("redirect", {"to": "/b", "status_code": 200}, "AIGW125"),  # a 3xx of 301, 302, 303, 307, 308
    ("redirect", {"to": "/b", "headers": {f"x-{i}": "v" for i in range(11)}}, "AIGW123"),
    ("redirect", {"to": "/b", "form": "/a"}, "AIGW120"),  # misspelled
    ("url-rewrite", {"from": "/a"}, "AIGW121"),
    ("url-rewrite", {"from": "/a", "to": ""}, "AIGW123"),
    ("basic-auth", {"credentials": ["alice:short"]}, "AIGW126"),  # a password of 8 to 128 characters
    ("basic-auth", {"credentials": ["alice"]}, "AIGW126"),  # username:password
    ("basic-auth", {"credentials": []}, "AIGW123"),
    ("basic-auth", {"credentials": [f"u{i}:password123" for i in range(11)]}, "AIGW123"),  # up to 10
    ("basic-auth", {"credentials": ["alice:password123"], "realm": "caf\u00e9"}, "AIGW126"),  # ASCII
    ("basic-auth", {"credentials": ["alice:password123"], "realm": "r" * 129}, "AIGW126"),
    ("basic-auth", {"credentials": ["${vars.user"]}, "AIGW203"),  # an interpolation left open
]


@pytest.mark.parametrize(("action", "config", "code"), REFUSED, ids=[f"{r[0]}-{r[2]}-{i}" for i, r in enumerate(REFUSED)])
def test_refused_config(action: str, config: dict[str, Any], code: str) -> None:
    doc = json.dumps({"on_http_request": [{"actions": [{"type": action, "config": config}]}]})
    _, found = ap.read(doc, format="json", cache_dir=None)
    assert code in {d.code for d in found}, [str(d) for d in found]
    assert all(d.span is not None for d in found)


@pytest.mark.parametrize("action", ["redirect", "url-rewrite", "basic-auth"])
def test_request_phase_only(action: str) -> None:
    config = {"credentials": ["alice:password123"]} if action == "basic-auth" else {"to": "/x"}
    doc = json.dumps({"on_http_response": [{"actions": [{"type": action, "config": config}]}]})
    _, found = ap.read(doc, format="json", cache_dir=None)
    # ngrok refuses it there (ERR_NGROK_2202), so it is an error here too, not a rule that does nothing
    assert [(d.code, d.is_error) for d in found] == [("AIGW134", True)]
    with pytest.raises(ap.PolicyError):
        ap.loads(doc, format="json")


# (url, on_error, status, what decided, the forward effect's url)
FORWARDS = [
    ("https://api.internal", None, 200, "forward-internal", "https://api.internal"),
    ("http://${req.url.path.split('/')[1]}.internal:8080", None, 200, "forward-internal", "http://v1.internal:8080"),
    ("https://${req.host}", None, 500, "error", None),  # no internal endpoint: the rule fails (AIGW509)
    ("https://${req.host}", "halt", 500, "error", None),
    ("https://${req.host}", "continue", 418, "deny", None),  # the next action runs
    ("${'not a url'}", "continue", 418, "deny", None),  # rendered: a written one is refused at load
    ("https://api.internal:${'port'}", None, 500, "error", None),
    ("tcp://${'db'}.internal:5432", None, 500, "error", None),  # ngrok: an endpoint of the request's protocol
]


@pytest.mark.parametrize(("url", "on_error", "status", "kind", "forward"), FORWARDS)
def test_forward_internal(url: str, on_error: str | None, status: int, kind: str, forward: str | None) -> None:
    config = {"url": url, **({"on_error": on_error} if on_error else {})}
    d = _decide([{"type": "forward-internal", "config": config}, {"type": "deny", "config": {"status_code": 418}}])
    assert (d.status_code, d.kind) == (status, kind), d.reason
    assert (d.to_dict()["effects"].get("forward") or {}).get("url") == forward
    if kind == "error":
        assert d.to_dict()["errors"][0]["code"] == "AIGW509"


@pytest.mark.parametrize("url", ["not a url", "https://api.internal:port", "https://api.example.com",
                                 "https://example.private", "<Internal endpoint URL Here>", "api.internal",
                                 "tcp://db.internal:5432", "tls://svc.internal:443"])
def test_a_written_url_that_is_no_internal_endpoint_is_refused_at_load(url: str) -> None:
    """It failed every request that reached it (AIGW509): now AIGW126 where it is written,
    as ngrok forwards "only to an internal endpoint" (a placeholder of ngrok's guides among them)."""
    doc = json.dumps({"on_http_request": [{"actions": [{"type": "forward-internal", "config": {"url": url}}]}]})
    _, found = ap.read(doc, format="json", cache_dir=None)
    at = doc.index(json.dumps(url)) + 1
    assert [(d.code, d.span.line, d.span.column) for d in found] == [("AIGW126", 1, at)], found


def test_a_tcp_forward_is_read_in_on_tcp_connect() -> None:
    doc = json.dumps({"on_tcp_connect": [{"actions": [{"type": "forward-internal",
                                                       "config": {"url": "tcp://db.internal:5432"}}]}]})
    _, found = ap.read(doc, format="json", cache_dir=None)
    assert [d.code for d in found] == ["AIGW102"]


def test_forward_internal_ends_the_phase_and_the_rules_after_it_are_not_reached() -> None:
    later = {"actions": [{"type": "deny"}]}
    d = _decide([{"type": "forward-internal", "config": {"url": "https://api.internal"}}], rules=[later])
    assert (d.verdict, d.rule, d.kind) == ("allow", "#1", "forward-internal")


def test_explain_says_redirected() -> None:
    from aigw_policy.engine.explain_text import decision_text

    d = _decide([{"type": "redirect", "config": {"from": "^http://", "to": "https://"}}])
    assert decision_text(d).startswith("REDIRECTED 302: redirected to `https://shop.example/v1/items?page=2`")


def test_a_replacement_is_bounded() -> None:
    """An empty `from` matches at every position: a long `to` at each is refused, not built."""
    d = _decide([{"type": "url-rewrite", "config": {"from": "", "to": "x" * 1000}}],
                url="https://s.example/" + "a" * 200)
    assert d.status_code == 500 and d.to_dict()["errors"][0]["code"] == "AIGW509"
    assert replace_all("", "-", "abc")[0] == "-a-b-c-"  # within the bound: Go's answer


def test_compress_response_is_read_recorded_and_said_not_applied() -> None:
    doc = json.dumps({"on_http_response": [{"actions": [{"type": "compress-response",
                                                          "config": {"algorithms": ["br", "gzip"]}}]}]})
    _, found = ap.read(doc, format="json", cache_dir=None)
    assert [d.code for d in found] == ["AIGW128"]
    bad = json.dumps({"on_http_request": [{"actions": [{"type": "compress-response",
                                                         "config": {"algorithms": ["gzip", "gzip"]}}]}]})
    _, found = ap.read(bad, format="json", cache_dir=None)
    assert "AIGW126" in {d.code for d in found}


_HEADER_FIELDS = [  # (action, its config without the headers, the key of its headers)
    ("add-headers", {}, "headers"),
    ("custom-response", {"status_code": 200, "body": "ok"}, "headers"),
    ("redirect", {"to": "https://example.com/"}, "headers"),
]


@pytest.mark.parametrize(("action", "config", "key"), _HEADER_FIELDS, ids=[f[0] for f in _HEADER_FIELDS])
@pytest.mark.parametrize("value", ["a\nb", "bad\r\nInjected: 1", "nul\x00", "pre-${req.method}\n"])
def test_a_written_control_character_in_a_header_value_is_refused_at_load(
        action: str, config: dict[str, object], key: str, value: str) -> None:
    """It failed every request that rendered it (AIGW504, 500) and loaded without a word; the
    written text around a `${...}` is known at load too."""
    doc = json.dumps({"on_http_request": [{"actions": [{"type": action, "config": {**config, key: {"x-a": value}}}]}]})
    _, found = ap.read(doc, format="json", cache_dir=None)
    assert [d.code for d in found] == ["AIGW126"], found
    assert found[0].span.column == doc.index(json.dumps(value)) + 1


def test_a_rendered_control_character_still_fails_its_rule() -> None:
    d = _decide([{"type": "add-headers", "config": {"headers": {"x-a": "${req.url.query_params['q'][0]}"}}}],
                url="https://shop.example/?q=a%0Ab")
    assert d.status_code == 500 and d.to_dict()["errors"][0]["code"] == "AIGW504", d.reason
