"""Real ngrok documents through ``serve``, in front of the stub upstream: what they ask for is
done on the wire. The document is put together from ngrok's own: the operator's fallback
(custom-response with its former ``content`` key), the A/B cookie test of ngrok's examples
gallery, headers added and removed (request and response phases), ``req.version``, and a
custom response whose content type is inferred from its body.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aigw_policy.gateway import Gateway

from .conftest import ServerThread
from .stub import StubUpstream

POLICY = """\
on_http_request:
  - name: Fallback-404
    expressions: ["req.url.path.startsWith('/missing')"]
    actions:
      - type: custom-response
        config:
          status_code: 404
          content: No route was found for this ngrok Endpoint
          headers: {content-type: text/plain}
  - name: no-content-type
    expressions: ["req.url.path.startsWith('/sniff/')"]
    actions:
      - type: custom-response
        config:
          status_code: 503
          body: >-
            ${req.url.path == '/sniff/html' ? '<html><body><h1>Service Unavailable</h1></body></html>'
            : req.url.path == '/sniff/json' ? '{"error": "down"}' : 'Denied.'}
  - name: ab-test
    expressions: ["hasReqCookie('ab_test') && req.cookies['ab_test'][0].value == 'b'"]
    actions:
      - type: add-headers
        config: {headers: {x-variant: b}}
  - actions:
      - type: add-headers
        config: {headers: {x-http-version: "${req.version}"}}
      - type: remove-headers
        config: {headers: [referrer]}
on_http_response:
  - actions:
      - type: add-headers
        config: {headers: {x-served-by: ngrok-document}}
"""
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("ngrok-doc")
    (d / "policy.yaml").write_text(POLICY)
    upstream = StubUpstream()
    with ServerThread(upstream) as up:
        with ServerThread(Gateway(policy=d / "policy.yaml", upstream=up.url, store="memory:", watch=0)) as gw:
            yield gw, upstream


def test_the_former_content_key_is_the_body(servers: Any) -> None:
    gw, _ = servers
    r = httpx.post(gw.url + "/missing", json=CHAT, timeout=10)
    assert (r.status_code, r.text, r.headers["content-type"]) == (
        404, "No route was found for this ngrok Endpoint", "text/plain")
    assert r.headers["x-served-by"] == "ngrok-document"  # the response phase ran on the gateway's answer


@pytest.mark.parametrize(("cookie", "variant"), [("ab_test=b; other=1", "b"), ("ab_test=a", None), (None, None)])
def test_the_cookie_and_the_version_reach_the_upstream(servers: Any, cookie: str | None, variant: str | None) -> None:
    gw, upstream = servers
    headers = {"referrer": "https://a.example/"} | ({"cookie": cookie} if cookie else {})
    r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    seen = upstream.seen[-1]["headers"]
    assert seen.get("x-variant") == variant
    assert seen["x-http-version"] == "HTTP/1.1" and "referrer" not in seen
    assert r.headers["x-served-by"] == "ngrok-document"


@pytest.mark.parametrize(("path", "ctype"), [
    ("/sniff/html", "text/html; charset=utf-8"), ("/sniff/json", "application/json"),
    ("/sniff/text", "text/plain; charset=utf-8")])
def test_a_custom_response_without_a_content_type_gets_one_from_its_body(servers: Any, path: str, ctype: str) -> None:
    """ngrok's custom-response: "if content-type is not included in headers, this action will
    attempt to infer the correct content-type" (its maintenance page and JSON examples)."""
    gw, _ = servers
    r = httpx.post(gw.url + path, json=CHAT, timeout=10)
    assert (r.status_code, r.headers["content-type"]) == (503, ctype), r.text
