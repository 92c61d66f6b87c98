"""What ``serve`` supplies of the declared variables, measured through ``serve`` itself, and
the start-up warning that names the rules reading what it never supplies
(gateway/supplied.py). The server runs ``serve``'s own protocol (``header_timeout_protocol``),
which gives the connection's times (``conn.ts.start``, ``req.ts.header_received``).

One policy reads every declared variable, each in a response rule of its own that adds a
header when the variable is there (``on-error skip``: a variable that is not there only
skips its rule). A request through ``serve`` that carries what a request can (a cookie, a
user agent, a query, a key's whole identity) then shows which variables ``serve`` supplied.
Each variable must be supplied, or named by ``NEVER_SUPPLIED`` (``GEO_PREFIXES`` without
``--geoip``), or be one this request does not carry (:data:`DEPENDS`); and nothing ``serve``
supplied may be named."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

import aigw_policy as ap
from aigw_policy.env.declarations import POLICY_VARIABLES
from aigw_policy.gateway import Gateway
from aigw_policy.gateway.server import header_timeout_protocol
from aigw_policy.gateway.supplied import unsupplied_readers

from .conftest import ServerThread
from .stub import StubUpstream

NAMES = sorted(n for n in POLICY_VARIABLES if n not in ("vars", "limits", "actions"))
DEPENDS = {
    "req.content_encoding",  # a compressed request body is refused (415): never with one here
    "req.url.user_password",  # no user info in the URL
    "res.content_encoding", "res.content_length", "res.cookies", "res.location",  # the stub's answer has none
}
"""Variables a request (or its answer) supplies only when it carries what they read."""

KEYS = """keys:
  - key: sk-gw-1
    identity: {key: k1, user: alice, team: research, org: acme, tier: pro, labels: {env: prod}}
"""


def _policy() -> str:
    rules = [f'    rule "v{i}" {{\n      on-error skip\n      when {n} == {n}\n'
             f'      add-headers {{ headers: {{ "x-seen-{i}": "1" }} }}\n    }}' for i, n in enumerate(NAMES)]
    return "policy {\n  on response {\n" + "\n".join(rules) + "\n  }\n}\n"


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    d = tmp_path_factory.mktemp("supplied")
    (d / "p.aigw").write_text(_policy())
    (d / "keys.yaml").write_text(KEYS)
    from aigw_policy.gateway.keys import load_keys

    with ServerThread(StubUpstream()) as up, \
            ServerThread(Gateway(policy=d / "p.aigw", upstream=up.url, store="memory:", watch=0,
                                 keys=load_keys(d / "keys.yaml")), http=header_timeout_protocol(10.0)) as gw:
        r = httpx.post(gw.url + "/v1/chat/completions?x=1", timeout=30,
                       headers={"authorization": "Bearer sk-gw-1", "cookie": "a=1", "user-agent": "curl/8.0",
                                "location": "/x"},
                       json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    return {n for i, n in enumerate(NAMES) if r.headers.get(f"x-seen-{i}") == "1"}


def _named(geoip: bool) -> set[str]:
    engine = ap.Engine(ap.loads(_policy()))
    return {n for _, names in unsupplied_readers(engine.compiled, geoip) for n in names}


def test_serve_supplies_each_variable_or_names_it(seen: set[str]) -> None:
    named = _named(False)
    assert len(seen) > 50  # the probe works: the plain variables are there
    assert not named & seen, f"named but supplied: {sorted(named & seen)}"
    missing = set(NAMES) - seen - named - DEPENDS
    assert not missing, f"neither supplied nor named: {sorted(missing)}"
    assert not DEPENDS & named


def test_with_geoip_the_geo_variables_are_not_named() -> None:
    without, with_geoip = _named(False), _named(True)
    assert {n for n in without - with_geoip} == {n for n in NAMES if n.startswith(
        ("conn.geo.", "conn.client_ip.geo.", "conn.client_ip.as."))}


def test_the_warning_names_the_rules_and_their_variables(tmp_path: Path, caplog: Any) -> None:
    (tmp_path / "p.yaml").write_text(
        "on_http_request:\n"
        "  - name: tor\n    expressions: [\"conn.client_ip.is_tor_node\"]\n    actions: [{type: deny}]\n"
        "  - name: mtls\n    expressions: [\"!conn.tls.client.subject.common_name.startsWith('svc-')\"]\n"
        "    actions: [{type: deny}]\n"
        "  - name: fine\n    expressions: [\"conn.client_ip == '1.2.3.4'\"]\n    actions: [{type: deny}]\n")
    logger = logging.getLogger("test.supplied")
    with caplog.at_level(logging.WARNING, logger="test.supplied"):
        Gateway(policy=tmp_path / "p.yaml", upstream="http://127.0.0.1:9", store="memory:", watch=0, logger=logger)
    assert ("`tor` reads `conn.client_ip.is_tor_node`; `mtls` reads `conn.tls.client.subject.common_name`"
            in caplog.text)
    assert "`fine`" not in caplog.text and "--geoip" not in caplog.text and "500" in caplog.text


TIMES = """on_http_request:
  - expressions:
      - "conn.ts.start <= req.ts.header_received && req.ts.header_received <= req.ts.body_received"
      - "req.ts.body_received - conn.ts.start < duration('60s')"
      - "timestamp(time.now) - conn.ts.start < duration('60s')"
    actions:
      - type: custom-response
        config: {status_code: 299, body: "${string(conn.ts.start)}"}
"""


def test_serve_gives_the_connection_and_request_times(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(TIMES)
    with ServerThread(Gateway(policy=tmp_path / "p.yaml", upstream="http://127.0.0.1:9", store="memory:",
                              watch=0), http=header_timeout_protocol(10.0)) as gw, httpx.Client() as client:
        first = client.post(gw.url + "/v1/chat/completions", json={"model": "m", "messages": []}, timeout=30)
        again = client.post(gw.url + "/v1/chat/completions", json={"model": "m", "messages": []}, timeout=30)
    assert (first.status_code, again.status_code) == (299, 299), first.text
    assert first.text == again.text  # one keep-alive connection: one start, whatever the request
    assert first.text.endswith("Z") and first.text[:2] == "20"


def test_basic_auth_under_a_keys_file_is_named_at_start(tmp_path: Path, caplog: Any) -> None:
    from aigw_policy.gateway import load_keys

    (tmp_path / "p.yaml").write_text(
        "on_http_request:\n"
        "  - name: shop\n    actions: [{type: basic-auth, config: {credentials: ['alice:password123']}}]\n"
        "  - name: watch\n    actions: [{type: basic-auth, config: {credentials: ['bob:password123'], enforce: false}}]\n")
    (tmp_path / "keys.yaml").write_text("keys:\n  - key: sk-gw-1\n    identity: {key: k1}\n")
    logger = logging.getLogger("test.supplied")
    with caplog.at_level(logging.WARNING, logger="test.supplied"):
        Gateway(policy=tmp_path / "p.yaml", upstream="http://127.0.0.1:9", store="memory:", watch=0, logger=logger)
    assert "basic-auth" not in caplog.text  # no keys file: the client's Authorization reaches the policy
    with caplog.at_level(logging.WARNING, logger="test.supplied"):
        Gateway(policy=tmp_path / "p.yaml", upstream="http://127.0.0.1:9", store="memory:", watch=0, logger=logger,
                keys=load_keys(tmp_path / "keys.yaml"))
    assert "rule `shop`: `basic-auth` never sees a credential" in caplog.text and "`watch`" not in caplog.text
