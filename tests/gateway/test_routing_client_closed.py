"""A client that closes its request while a routed attempt is in flight (SPEC §12): the
gateway gives the attempt up and tries no other (nobody is left to answer), the request is
finished as one the client closed (499, in the ledger once), its reservations released, and
the provider's health is not blamed for it."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from .conftest import WAIT, ledger_records
from .providers_stub import Reply
from .routing_env import GATEWAY_KEY, fresh, routed, stubs  # noqa: F401

BODY = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()


def _post_and_leave(url: str, after: float) -> None:
    host, port = url.removeprefix("http://").split(":")
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {GATEWAY_KEY}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(BODY)}\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(head + BODY)
        time.sleep(after)  # the first attempt is in flight (its upstream answers in 3.5 s)


def _final_records(path: Any, known: set[str]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT
    while True:
        new = [r for r in ledger_records(path) if r["aigw.request.id"] not in known and r["aigw.verdict"] != "pending"]
        if new or time.monotonic() > deadline:
            return new
        time.sleep(0.05)


def test_a_client_that_leaves_mid_attempt_ends_the_route(routed: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(delay=3.5, model="gpt-4o", times=3))
    known = {r["aigw.request.id"] for r in ledger_records(routed.files["ledger"])}
    _post_and_leave(routed.url, 0.4)
    new = _final_records(routed.files["ledger"], known)
    assert len(new) == 1, new
    rec = new[0]
    assert rec["aigw.attempts"] == 1  # the attempt in flight, and no other
    assert rec["http.response.status_code"] == 499
    assert len(stubs["alpha"][0].seen) == 1 and not stubs["beta"][0].seen
    seen = routed.app.route_metrics.snapshot(time.time())  # this module's gateway: no other request made
    assert ("alpha", "a1") not in seen["keys"] and ("alpha", "gpt-4o") not in seen["models"]  # not its doing
