"""What ngrok's documentation says its examples do, run through the engine (eighteenth ngrok
pass): each row is a policy as ngrok's docs print it (the page in ``source``), a request, and
the outcome the page states ("redirected to ...", "returns 404", the variable's example
value). Rows name their keys; a misspelled key fails the test.

Classes fixed in this pass (each row failed before its fix):

- a ``redirect``/``url-rewrite`` result is a URL reference resolved against the request's URL
  (``to: /redirect`` keeps the scheme and host; ``from: /.*`` first matches at ``//host``);
- ``req.url.user_password`` is the URL's ``user:password``, and ``req.host`` never holds it;
- ``req.user_agent.*`` names as ngrok's docs print them (``macOS``, ``Safari`` on an iPhone,
  ``ChatGPT-User``);
- ``actions.ngrok.remove_headers.headers_removed`` lists the headers there were to remove.
"""

from __future__ import annotations

from typing import Any

import pytest

import aigw_policy as ap

SAFARI_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/603.3.8 (KHTML, like Gecko) "
              "Version/10.1.2 Safari/603.3.8")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.1 Mobile/15E148 Safari/604.1")
CHATGPT_USER = ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
                "+https://openai.com/bot")
ANTHROPIC = "Mozilla/5.0 (compatible; anthropic-ai/1.0; +http://www.anthropic.com/bot.html)"
CHROMEBOOK = ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
              "Safari/537.36")
PIXEL_CHROME = ("Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/116.0.0.0 Mobile Safari/537.36")

K8S_REDIRECT = """
on_http_request:
  - actions:
      - type: redirect
        config:
          from: /.*
          to: /redirect
"""
GEO_REDIRECT = """
on_http_request:
  - expressions:
      - req.url.path in ['/api/v2/geo', '/api/v2/geo/']
    actions:
      - type: redirect
        config:
          to: /api/v2/geo?city=${conn.geo.city}
"""
PRODUCTS_REWRITE = """
on_http_request:
  - actions:
      - type: url-rewrite
        config:
          from: ${req.url.authority}/products/?([.*]+)?
          to: /products.php?query=$1
  - actions:
      - type: custom-response
        config:
          body: ${req.url} ${req.url.host} ${req.url.path} ${req.url.query}
"""
K8S_REWRITE = """
on_http_request:
  - actions:
      - type: url-rewrite
        config:
          from: /.*
          to: /rewrite
  - actions:
      - type: custom-response
        config:
          body: ${req.url}
"""
URL_PARTS = """
on_http_request:
  - expressions:
      - req.url.user_password == 'user:password'
      - req.url.authority == 'user:password@nba.com'
    actions:
      - type: custom-response
        config:
          body: ${req.host} ${req.headers['host'][0]}
"""
UA_PARTS = """
on_http_request:
  - expressions:
      - req.user_agent.name == 'Safari'
      - req.user_agent.version == '10.1.2'
      - req.user_agent.os == 'macOS'
      - req.user_agent.os_version == '10.12.6'
    actions:
      - type: custom-response
        config:
          status_code: 299
"""
BLOCK_AI_BOTS = """
on_http_request:
  - name: Block specific bots by user agent
    expressions:
      - req.user_agent.name in ['ChatGPT-User', 'GPTBot', 'OAI-SearchBot']
    actions:
      - type: deny
        config:
          status_code: 404
"""
BLOCK_BOTS = """
on_http_request:
- expressions:
  - req.user_agent.is_bot
  actions:
  - type: deny
    config:
      status_code: 403
"""
UA_ECHO = """
on_http_request:
  - actions:
      - type: custom-response
        config:
          body: ${req.user_agent.name}/${req.user_agent.os}/${req.user_agent.is_mobile}
"""
REMOVED = """
on_http_request:
  - actions:
      - type: remove-headers
        config:
          headers:
            - x-client-version
            - X-Trace-Id
      - type: custom-response
        config:
          body: ${actions.ngrok.remove_headers.headers_removed}
"""
REMOVED_RESPONSE = """
on_http_response:
  - actions:
      - type: remove-headers
        config:
          headers: [Server, x-powered-by]
      - type: custom-response
        config:
          body: ${actions.ngrok.remove_headers.headers_removed}
"""

ROW_KEYS = {"id", "source", "doc", "url", "headers", "conn", "response", "want"}
WANT_KEYS = {"status", "location", "body"}

ROWS: list[dict[str, Any]] = [
    # -- redirect / url-rewrite: the result resolved against the request's URL
    {"id": "k8s-redirect-full-path", "source": "k8s/guides/how-to/redirects.mdx", "doc": K8S_REDIRECT,
     "url": "https://example-hostname.ngrok.io/example",
     "want": {"status": 302, "location": "https://example-hostname.ngrok.io/redirect"}},
    {"id": "k8s-redirect-full-path-deeper", "source": "k8s/guides/how-to/redirects.mdx", "doc": K8S_REDIRECT,
     "url": "https://example-hostname.ngrok.io/example/foo",
     "want": {"status": 302, "location": "https://example-hostname.ngrok.io/redirect"}},
    {"id": "redirect-interpolation-no-from", "source": "traffic-policy/actions/redirect (3-with-string-interpolation)",
     "doc": GEO_REDIRECT, "url": "https://example.ngrok.app/api/v2/geo", "conn": {"geo": {"city": "San Francisco"}},
     "want": {"status": 302, "location": "https://example.ngrok.app/api/v2/geo?city=San%20Francisco"}},
    {"id": "redirect-to-itself-is-none", "source": "traffic-policy/actions/redirect (behavior: an unchanged URL)",
     "doc": GEO_REDIRECT.replace("?city=${conn.geo.city}", ""), "url": "https://example.ngrok.app/api/v2/geo",
     "want": {"status": 200}},
    {"id": "url-rewrite-authority-products", "source": "traffic-policy/actions/url-rewrite (3-with-string-interpolation)",
     "doc": PRODUCTS_REWRITE, "url": "https://example.ngrok.app/products/123",
     "want": {"status": 200, "body": "https://example.ngrok.app/products.php?query=123 example.ngrok.app /products.php "
                                     "query=123"}},
    {"id": "k8s-rewrite-full-path", "source": "k8s/guides/how-to/rewrite-url.mdx", "doc": K8S_REWRITE,
     "url": "https://example-hostname.ngrok.io/example/foo",
     "want": {"status": 200, "body": "https://example-hostname.ngrok.io/rewrite"}},
    # -- the URL's parts
    {"id": "url-user-password", "source": "traffic-policy/variables/req (req.url.user_password, req.url.authority)",
     "doc": URL_PARTS, "url": "https://user:password@nba.com/", "want": {"status": 200, "body": "nba.com nba.com"}},
    # -- the User-Agent's parts, named as ngrok's docs name them
    {"id": "ua-safari-macos", "source": "traffic-policy/variables/req (req.user_agent.*)", "doc": UA_PARTS,
     "headers": {"User-Agent": SAFARI_MAC}, "want": {"status": 299}},
    {"id": "ua-block-chatgpt-user", "source": "traffic-policy/examples/block-unwanted-requests.mdx",
     "doc": BLOCK_AI_BOTS, "headers": {"User-Agent": CHATGPT_USER}, "want": {"status": 404}},
    {"id": "ua-chatgpt-user-is-bot", "source": "traffic-policy/examples/user-agent-filtering.mdx", "doc": BLOCK_BOTS,
     "headers": {"User-Agent": CHATGPT_USER}, "want": {"status": 403}},
    {"id": "ua-anthropic-named", "source": "traffic-policy/examples/block-unwanted-requests.mdx", "doc": UA_ECHO,
     "headers": {"User-Agent": ANTHROPIC}, "want": {"status": 200, "body": "anthropic-ai/Other/false"}},
    {"id": "ua-iphone-safari", "source": "traffic-policy/variables/req (req.user_agent.name == 'Safari')",
     "doc": UA_ECHO, "headers": {"User-Agent": SAFARI_IPHONE}, "want": {"status": 200, "body": "Safari/iOS/true"}},
    {"id": "ua-android-chrome", "source": "traffic-policy/variables/req", "doc": UA_ECHO,
     "headers": {"User-Agent": PIXEL_CHROME}, "want": {"status": 200, "body": "Chrome/Android/true"}},
    {"id": "ua-chromeos", "source": "traffic-policy/variables/req", "doc": UA_ECHO,
     "headers": {"User-Agent": CHROMEBOOK}, "want": {"status": 200, "body": "Chrome/ChromeOS/false"}},
    # -- remove-headers: "a list of headers that were successfully removed"
    {"id": "headers-removed-request", "source": "traffic-policy/actions/remove-headers (variables)", "doc": REMOVED,
     "headers": {"X-Trace-Id": "abc123"}, "want": {"status": 200, "body": '["x-trace-id"]'}},
    {"id": "headers-removed-response", "source": "traffic-policy/actions/remove-headers (variables)",
     "doc": REMOVED_RESPONSE, "response": {"status_code": 200, "headers": {"server": "nginx"}, "body": None},
     "want": {"status": 200, "body": '["server"]'}},
]


def _check_keys(row: dict[str, Any]) -> None:
    assert set(row) <= ROW_KEYS and {"id", "source", "doc", "want"} <= set(row), sorted(set(row) - ROW_KEYS)
    assert set(row["want"]) <= WANT_KEYS and "status" in row["want"], sorted(set(row["want"]) - WANT_KEYS)


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_documented_outcome(row: dict[str, Any]) -> None:
    _check_keys(row)
    _, found = ap.read(row["doc"], format="yaml", cache_dir=None)
    assert not [d for d in found if d.severity == ap.Severity.ERROR], [str(d) for d in found]
    request: dict[str, Any] = {
        "id": "r1", "now": "2026-11-26T12:00:00Z",
        "conn": {"client_ip": "203.0.113.7", **row.get("conn", {})},
        "request": {"method": "GET", "url": row.get("url", "https://example.ngrok.app/"),
                    "headers": row.get("headers", {})},
    }
    if "response" in row:
        request["response"] = row["response"]
    decision = ap.Engine(ap.loads(row["doc"])).evaluate(request)
    want = row["want"]
    assert decision.status_code == want["status"], decision.reason
    answer = decision.to_dict().get("response") or {}
    if "location" in want:
        assert (answer.get("headers") or {}).get("location") == want["location"]
    if "body" in want:
        assert answer.get("body") == want["body"]


ALLOW_ONE = """
on_http_request:
  - actions:
      - type: restrict-ips
        config:
          enforce: true
          allow:
            - 1.1.1.1/32
          deny:
            - e680:5791:be4c:5739:d959:7b94:6d54:d4b4/128
"""
DENY_ONLY = """
on_http_request:
  - actions:
      - type: restrict-ips
        config:
          deny:
            - 203.0.113.0/24
"""
DENY_IPV6 = DENY_ONLY.replace("203.0.113.0/24", "'::/0'")

# (policy, client IP as a dual-stack socket shows it, status): an IPv4-mapped IPv6 address is
# the IPv4 client it maps, as `inCidrRange` reads it, so a deny list is not bypassed through it
MAPPED = [
    (DENY_ONLY, "::ffff:203.0.113.9", 403),
    (ALLOW_ONE, "::ffff:1.1.1.1", 200),  # ngrok's restrict-ips example: 1.1.1.1 is allowed
    (ALLOW_ONE, "::FFFF:1.1.1.1", 200),
    (DENY_IPV6, "::ffff:1.1.1.1", 200),  # an IPv4 client is no IPv6 one
]


@pytest.mark.parametrize(("doc", "ip", "status"), MAPPED, ids=[f"{r[1]}-{r[2]}-{i}" for i, r in enumerate(MAPPED)])
def test_restrict_ips_reads_a_mapped_address_as_ipv4(doc: str, ip: str, status: int) -> None:
    decision = ap.Engine(ap.loads(doc)).evaluate(
        {"id": "r1", "conn": {"client_ip": ip}, "request": {"method": "GET", "url": "https://example.ngrok.app/"}})
    assert decision.status_code == status, decision.reason


@pytest.mark.parametrize(("client", "want"), [
    (("::ffff:198.51.100.7", 50000), "198.51.100.7"),
    (("::FFFF:198.51.100.7", 50000), "198.51.100.7"),
    (("2001:db8::7", 50000), "2001:db8::7"),
    (("198.51.100.7", 50000), "198.51.100.7"),
])
def test_serve_names_a_dual_stack_ipv4_client_by_its_ipv4_address(client: tuple[str, int], want: str) -> None:
    from aigw_policy.gateway.conn import conn_of

    conn = conn_of(client, ("::ffff:10.0.0.1", 8080))
    assert (conn["client_ip"], conn["server_ip"]) == (want, "10.0.0.1")
