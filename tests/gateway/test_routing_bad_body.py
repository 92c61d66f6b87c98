"""ngrok's ERR_NGROK_3801 (400 "Invalid request body"): a body that is not JSON, a ``model``
that is not a string, a ``models`` that is not a list, a ``models`` holding something else
than names. A ``models`` of the wrong type was ignored: the request was served on ``model``
alone (``"models": "gpt-4o"``, ``[null]``) or refused 422 ERR_NGROK_3804 (``[1, 2]``). Each is
refused 400 before the policy, with ngrok's code under a policy that routes and the gateway's
own (``invalid_json``, ``invalid_request``) under one that does not."""

from __future__ import annotations

import httpx
import pytest

from .conftest import ServerThread, policy_gateway, routed_policy
from .providers_stub import StubProvider

KEY = "sk-gw-bad-body"
PLAIN = "on_http_request:\n  - name: tag\n    actions: [{type: add-headers, config: {headers: {x-t: '1'}}}]\n"

# (case, body, the code under a policy that does not route)
BODIES = [
    ("not JSON", b'{"model": "gpt-4o", "messages": [', "invalid_json"),
    ("model a number", b'{"model": 123, "messages": []}', "invalid_request"),
    ("models a string", b'{"model": "gpt-4o", "models": "gpt-4o", "messages": []}', "invalid_request"),
    ("models of numbers", b'{"models": [1, 2], "messages": []}', "invalid_request"),
    ("models holding null", b'{"model": "gpt-4o", "models": [null], "messages": []}', "invalid_request"),
]


# bodies that are JSON but no object: the route reads no model from them (a policy that does
# not route lets them through, as the upstream's to refuse)
NOT_OBJECTS = [("a JSON array", b'[1, 2]'), ("a JSON string", b'"gpt-4o"')]


def test_a_body_that_is_no_object_is_refused_by_the_route() -> None:
    stub = StubProvider("p")
    with ServerThread(stub) as up, policy_gateway(routed_policy([up.url]), KEY) as gw:
        for case, body in NOT_OBJECTS:
            r = httpx.post(gw.url + "/v1/chat/completions", content=body,
                           headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
            assert (r.status_code, r.json()["error"]["code"]) == (400, "ERR_NGROK_3801"), (case, r.text)
    assert stub.seen == []


@pytest.mark.parametrize("routes", [True, False])
def test_an_unreadable_body_is_refused_400(routes: bool) -> None:
    stub = StubProvider("p")
    with ServerThread(stub) as up:
        policy = routed_policy([up.url]) if routes else PLAIN
        with policy_gateway(policy, KEY, **({} if routes else {"upstream": up.url})) as gw:
            for case, body, own in BODIES:
                r = httpx.post(gw.url + "/v1/chat/completions", content=body,
                               headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"})
                assert r.status_code == 400, (case, r.text)
                assert r.json()["error"]["code"] == ("ERR_NGROK_3801" if routes else own), case
    assert stub.seen == []
