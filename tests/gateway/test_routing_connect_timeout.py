"""A connection to an upstream that is never made (its SYN dropped: a firewall, a host that is
down; here a listener whose backlog is full) within ``connect_timeout`` is a connection
failure, ``connect``, as a refused one is: nothing reached the provider, and its time says
nothing of how fast it answers. ``failover_on: [connect]`` fails over on it; a route that does
not fail over on it answers ngrok's 502 ``ERR_NGROK_3800`` ("Could not reach the AI
provider"); the single-upstream proxy answers 502 ``unreachable``.

Before (route21), it was ``timeout``: ``failover_on: [connect]`` did not fail over, and the
client got a 504 "Request timed out after 10s" (the per-request timeout) after the connect
timeout, a fraction of that; an attempt whose time had been cut to what the total left ended
the whole route with the total's 504 although time was left."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import httpx
import pytest

from .conftest import policy_gateway, record_of, routed_policy
from .raw_upstream import RawUpstream, serve
from .test_routing_foreign_answers import CHAT, _json

KEY = "sk-gw-connect"
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@contextlib.contextmanager
def unreachable() -> Iterator[str]:
    """The URL of a listener whose backlog is full, so that a new connection never completes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    port = sock.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        probe = socket.socket()
        probe.settimeout(0.2)
        try:
            probe.connect(("127.0.0.1", port))
            pytest.skip("this kernel completes connections past a full backlog: no connect time-out to provoke")
        except TimeoutError:
            pass
        finally:
            probe.close()
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        sock.close()


def _post(url: str) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json=BODY, timeout=30, headers={"authorization": f"Bearer {KEY}"})


def test_a_connect_timeout_fails_over_under_failover_on_connect() -> None:
    config = "          per_request_timeout: 20s\n          failover_on: [connect]\n"
    with unreachable() as dead, RawUpstream(serve(_json(CHAT))) as good, \
            policy_gateway(routed_policy([dead, good.url], config=config), KEY, connect_timeout=0.3) as gw:
        got = _post(gw.url)
        assert got.status_code == 200, got.text
        assert record_of(gw.ledger, got.headers["x-aigw-decision-id"])["aigw.attempts"] == 2


def test_a_connect_timeout_that_is_no_trigger_is_ngroks_could_not_reach() -> None:
    config = "          per_request_timeout: 20s\n          failover_on: [429]\n"
    with unreachable() as dead, RawUpstream(serve(_json(CHAT))) as good, \
            policy_gateway(routed_policy([dead, good.url], config=config), KEY, connect_timeout=0.3) as gw:
        got = _post(gw.url)
        assert got.status_code == 502, got.text
        assert "ERR_NGROK_3800" in got.text and "timed out" not in got.text
        assert good.opened == 0


def test_a_connect_timeout_with_the_time_cut_by_the_total_leaves_the_rest_to_the_next() -> None:
    """The second attempt's time is cut to what the total left (far more than the connect
    timeout): its connect timeout is no total time-out, and the third candidate serves."""
    config = "          per_request_timeout: 20s\n          total_timeout: 20s\n"
    with unreachable() as dead, RawUpstream(serve(_json(CHAT))) as good, \
            policy_gateway(routed_policy([dead, dead, good.url], ids=["p0", "p1", "p2"], config=config), KEY,
                           connect_timeout=0.3) as gw:
        got = _post(gw.url)
        assert got.status_code == 200, got.text
        assert record_of(gw.ledger, got.headers["x-aigw-decision-id"])["aigw.attempts"] == 3


def test_the_proxy_s_connect_timeout_is_unreachable() -> None:
    with unreachable() as dead, policy_gateway("on_http_request: []\n", KEY, upstream=dead, connect_timeout=0.3) as gw:
        got = _post(gw.url)
        assert got.status_code == 502, got.text
        assert got.headers["x-aigw-upstream-error"] == "unreachable"
