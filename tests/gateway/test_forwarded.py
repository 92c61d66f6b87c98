"""Who may say the client's address: `serve` believes `X-Forwarded-For` from nobody unless
`--forwarded-allow-ips` names the proxies in front of it. (uvicorn alone believes it from
127.0.0.1, so a client on the gateway's host could pass for any address and slip past a
per-IP limit or `restrict-ips`.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from aigw_policy.cli.serve import forwarded

from .conftest import ServerThread
from .test_startup import policy, serve, served  # noqa: F401  (fixtures)

POLICY = """\
on_http_request:
  - name: blocked
    expressions: ["conn.client_ip == '203.0.113.66'"]
    actions: [{type: deny, config: {status_code: 403}}]
  - name: echo
    actions: [{type: custom-response, config: {status_code: 200, body: "${conn.client_ip}"}}]
"""


def test_serve_believes_no_proxy_by_default(policy: Path, served: dict[str, Any]) -> None:  # noqa: F811
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert served["proxy_headers"] is False


def test_serve_believes_the_proxies_it_is_told_of(policy: Path, served: dict[str, Any]) -> None:  # noqa: F811
    result = serve(["-p", str(policy), "--upstream", "http://127.0.0.1:9"],
                   env={"AIGW_FORWARDED_ALLOW_IPS": "10.0.0.0/8,127.0.0.1"})
    assert result.exit_code == 0, result.output
    assert (served["proxy_headers"], served["forwarded_allow_ips"]) == (True, "10.0.0.0/8,127.0.0.1")


@pytest.mark.parametrize("allow, status, seen", [
    (None, 200, "127.0.0.1"),          # the header is the client's say: ignored
    ("10.9.9.9", 200, "127.0.0.1"),    # a proxy, but not this one
    ("127.0.0.1", 403, None),          # the proxy in front says who the client is: refused
])
def test_a_forwarded_address_counts_only_from_a_named_proxy(tmp_path: Path, allow: str | None, status: int,
                                                           seen: str | None) -> None:
    from aigw_policy.gateway import Gateway

    (tmp_path / "policy.yaml").write_text(POLICY)
    app = Gateway(policy=tmp_path / "policy.yaml", upstream="http://127.0.0.1:9", store="memory:", watch=0)
    with ServerThread(app, **forwarded(allow)) as gw:
        r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []},
                       headers={"x-forwarded-for": "203.0.113.66"}, timeout=20)
    assert r.status_code == status, r.text
    if seen is not None:
        assert r.text == seen
