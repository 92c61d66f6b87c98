"""``serve`` supplies what the connection tells (gateway/conn.py): ngrok's ``conn.client_ip``,
``conn.client_port``, ``conn.server_ip`` and ``conn.server_port``, so that documents reading
them decide rather than fail (a variable the request does not supply is an error)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aigw_policy.gateway import Gateway
from aigw_policy.gateway.conn import conn_of, connection_reads, server_name

from .conftest import ServerThread
from .stub import StubUpstream

POLICY = '''on_http_request:
  - expressions: ["conn.server_port == int(req.headers['x-port'][0]) && conn.client_port > 0 && conn.client_ip == '127.0.0.1'"]
    actions:
      - type: custom-response
        config: {status_code: 299, body: "${conn.server_ip}"}
'''


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("conn")
    (d / "p.yaml").write_text(POLICY)
    with ServerThread(StubUpstream()) as up:
        with ServerThread(Gateway(policy=d / "p.yaml", upstream=up.url, store="memory:", watch=0)) as gw:
            yield gw


def test_a_policy_reads_the_connection(gateway: Any) -> None:
    port = gateway.url.rsplit(":", 1)[1]
    r = httpx.post(gateway.url + "/v1/chat/completions", headers={"x-port": port},
                   json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert (r.status_code, r.text) == (299, "127.0.0.1")
    other = httpx.post(gateway.url + "/v1/chat/completions", headers={"x-port": "1"},
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert other.status_code == 200  # the condition is false, not an error


@pytest.mark.parametrize(("client", "server", "want"), [
    (("10.0.0.1", 5000), ("10.0.0.2", 8080),
     {"client_ip": "10.0.0.1", "client_port": 5000, "server_ip": "10.0.0.2", "server_port": 8080}),
    (("10.0.0.1", None), None, {"client_ip": "10.0.0.1"}),  # a socket without ports
    (("10.0.0.1", 5000), ("/run/gw.sock", None), {"client_ip": "10.0.0.1", "client_port": 5000}),
])
def test_what_a_socket_gives(client: Any, server: Any, want: dict[str, Any]) -> None:
    assert conn_of(client, server) == want


def test_the_server_name() -> None:
    assert server_name({"server": ("10.0.0.2", 8080)}) == "10.0.0.2:8080"
    assert server_name({"server": None}) == "localhost"


@pytest.mark.parametrize(("policy", "lookups", "status"), [
    (POLICY, 3, 299),  # reads conn.*: looked up for each of the 3 requests
    ("on_http_request:\n  - expressions: [\"req.headers['x-port'][0] == '0'\"]\n"
     "    actions: [{type: custom-response, config: {status_code: 298}}]\n", 0, 298),  # reads no conn.*
])
def test_the_connection_is_worked_out_for_a_policy_that_reads_it(tmp_path: Any, policy: str, lookups: int,
                                                                  status: int) -> None:
    """``conn.*`` (and the geo lookup behind ``conn.geo.*``) is built for a request only when
    some text of the policy reads ``conn``: nothing else reads it."""
    seen: list[str] = []

    def geoip(ip: str) -> dict[str, Any]:
        seen.append(ip)
        return {}

    (tmp_path / "p.yaml").write_text(policy)
    with ServerThread(StubUpstream()) as up:
        gw_app = Gateway(policy=tmp_path / "p.yaml", upstream=up.url, store="memory:", watch=0, geoip=geoip)
        with ServerThread(gw_app) as gw:
            port = gw.url.rsplit(":", 1)[1]
            for x_port in (port, "0"):
                httpx.post(gw.url + "/v1/chat/completions", headers={"x-port": x_port},
                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
            r = httpx.post(gw.url + "/v1/chat/completions", headers={"x-port": port if lookups else "0"},
                           json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert r.status_code == status, r.text
    assert len(seen) == lookups


def test_what_a_policy_reads_of_the_connection() -> None:
    """The activation's plan says it; an engine-like object (an embedder's wrapper, no compiled
    policy) gets everything, as every engine did before."""
    import aigw_policy as ap

    reads = ap.Engine(ap.loads("on_http_request:\n  - expressions: [\"conn.client_ip == '1.2.3.4'\"]\n"
                               "    actions: [{type: deny}]\n", format="yaml"))
    neither = ap.Engine(ap.loads("policy { on request { rule \"r\" { deny 403 } } }"))
    assert connection_reads(reads) == (True, False)
    assert connection_reads(neither) == (False, False)
    assert connection_reads(object()) == (True, True)
