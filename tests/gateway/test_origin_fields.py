"""The fields in which an upstream states a policy of its own origin (``alt-svc``: where else
it is served; ``strict-transport-security``: HTTPS only, for it and its subdomains; key pins)
never reach the client, whose origin is the gateway's: passed on, OpenAI's ``alt-svc:
h3=":443"`` sent HTTP/3 clients to UDP 443 of the gateway's host, and its HSTS pinned HTTPS on
every subdomain of the operator's domain in a browser. Whoever's key went (the gateway's, the
client's own), proxied and routed alike."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from .conftest import ServerThread, routed_policy
from .providers_stub import Reply, StubProvider

ORIGIN = {"alt-svc": 'h3=":443"; ma=86400', "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
          "expect-ct": "max-age=86400, enforce", "public-key-pins": 'pin-sha256="x"; max-age=10'}
KEY = "sk-gw-origin"


@pytest.mark.parametrize("routed", [False, True], ids=["proxied", "routed"])
@pytest.mark.parametrize("keys", [False, True], ids=["client-key", "gateway-key"])
def test_an_upstreams_origin_fields_are_not_the_gateways(tmp_path: Path, routed: bool, keys: bool) -> None:
    from aigw_policy.gateway import Gateway, load_keys

    stub = StubProvider("p")
    stub.push(Reply(headers={**ORIGIN, "x-request-id": "up-1"}))
    (tmp_path / "keys.yaml").write_text(f"keys:\n  - key: {KEY}\n    identity: {{key: k}}\n"
                                        "upstream_auth:\n  openai: {authorization: \"Bearer sk-operator-1\"}\n")
    with ServerThread(stub) as up:
        if routed:
            (tmp_path / "p.yaml").write_text(routed_policy([up.url], key_ids=["k0" if keys else None]))
            kw: dict = {}
        else:
            (tmp_path / "p.yaml").write_text('on_http_request: []\n')
            kw = {"upstream": up.url}
        app = Gateway(policy=tmp_path / "p.yaml", keys=load_keys(tmp_path / "keys.yaml") if keys else None,
                      watch=0, **kw)
        with ServerThread(app) as gw:
            r = httpx.post(gw.url + "/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    assert {k: v for k, v in r.headers.items() if k in ORIGIN} == {}
    assert r.headers["x-request-id"] == "up-1"
