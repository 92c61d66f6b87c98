"""ngrok's `redirect`, `url-rewrite` and `basic-auth` through ``serve``, in front of the stub
upstream (a policy of our own, written from ngrok's documented config shapes): a redirect is
the status and `Location` with an empty body, a rewritten URL is the path and query the
upstream gets (and what later rules read), a failed basic authentication is 401 with
`WWW-Authenticate`, and a rewrite to a path the gateway refuses is a 500 naming the rule."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from aigw_policy.gateway import Gateway

from .conftest import ServerThread
from .stub import StubUpstream

POLICY = """\
on_http_request:
  - expressions: ["req.url.path.startsWith('/old/')"]
    actions:
      - type: redirect
        config: {from: "/old/", to: "/v1/", status_code: 308, headers: {x-moved: "yes"}}
  - name: legacy
    actions:
      - type: url-rewrite
        config: {from: "/legacy/([a-z]+)", to: "/v1/$1/completions"}
  - expressions: ["req.url.path == '/v1/chat/completions'"]
    actions: [{type: add-headers, config: {headers: {x-path-seen: "${req.url.path}"}}}]
  - expressions: ["req.url.path.startsWith('/private/')"]
    actions:
      - type: basic-auth
        config: {credentials: ["alice:password123"], realm: shop}
      - type: url-rewrite
        config: {from: "/private/", to: "/v1/"}
  - expressions: ["req.url.path.startsWith('/escape/')"]
    actions:
      - type: url-rewrite
        config: {from: "/escape/", to: "/v1%2F"}
"""
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("ngrok-http-actions")
    (d / "policy.yaml").write_text(POLICY)
    up = StubUpstream()
    with ServerThread(up) as upstream, \
            ServerThread(Gateway(policy=d / "policy.yaml", upstream=upstream.url, store="memory:", watch=0)) as gw:
        yield gw, up


def test_redirect_answers_with_location(servers: Any) -> None:
    gw, up = servers
    before = len(up.seen)
    r = httpx.post(gw.url + "/old/chat/completions?x=1", json=CHAT, timeout=30, follow_redirects=False)
    assert (r.status_code, r.headers["location"], r.headers["x-moved"], r.content) == (
        308, gw.url + "/v1/chat/completions?x=1", "yes", b"")
    assert len(up.seen) == before  # answered by the gateway


def test_url_rewrite_is_what_the_upstream_gets(servers: Any) -> None:
    gw, up = servers
    r = httpx.post(gw.url + "/legacy/chat?x=1", json=CHAT, timeout=30)
    assert r.status_code == 200, r.text
    seen = up.seen[-1]
    assert (seen["path"], seen["query"], seen["headers"]["x-path-seen"]) == (
        "/v1/chat/completions", "x=1", "/v1/chat/completions")


def test_basic_auth(servers: Any) -> None:
    gw, up = servers
    refused = httpx.post(gw.url + "/private/chat/completions", json=CHAT, timeout=30)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == 'Basic realm="shop"'
    good = "Basic " + base64.b64encode(b"alice:password123").decode()
    passed = httpx.post(gw.url + "/private/chat/completions", json=CHAT, timeout=30, headers={"authorization": good})
    assert passed.status_code == 200 and up.seen[-1]["path"] == "/v1/chat/completions"


def test_a_rewrite_to_a_refused_path_is_the_rules_error(servers: Any) -> None:
    gw, up = servers
    before = len(up.seen)
    r = httpx.post(gw.url + "/escape/chat/completions", json=CHAT, timeout=30)
    assert r.status_code == 500 and "rewrote the URL" in r.text and len(up.seen) == before


INTERNAL = """\
on_http_request:
  - expressions: ["req.url.path.startsWith('/v1/')"]
    actions:
      - type: rate-limit
        config: {name: per-ip, capacity: 100, rate: 60s, bucket_key: [conn.client_ip]}
      - type: forward-internal
        config: {url: "https://api.internal"}
on_http_response:
  - actions:
      - type: add-headers
        config: {headers: {x-upstream-status: "${string(res.status_code)}"}}
"""


def test_forward_internal_is_a_502_naming_the_endpoint_to_the_operator_only(tmp_path: Any,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    """serve has no ngrok internal endpoints: the request the policy forwards to one gets a 502,
    and the response phase runs on that answer. The endpoint's URL (the policy's topology) is
    in the operator's log, not in the client's answer."""
    (tmp_path / "p.yaml").write_text(INTERNAL)
    up = StubUpstream()
    gateway = Gateway(policy=tmp_path / "p.yaml", upstream="http://127.0.0.1:9", store="memory:", watch=0)
    with ServerThread(up) as _, ServerThread(gateway) as gw:
        r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, timeout=30)
    assert r.status_code == 502 and r.json()["error"]["code"] == "internal_endpoint"
    assert "api.internal" not in r.text and "https://api.internal" in caplog.text
    assert r.headers["x-upstream-status"] == "502" and not up.seen
