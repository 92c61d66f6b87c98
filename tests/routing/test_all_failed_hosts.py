"""The all-failed 503 (and a malformed answer's 502, the debugging trace's ``body_on_error``)
lists what each attempt's answer said, without the deployment's host names: not only URLs, IP
literals and the provider's own ``base_url`` host, but any host an intermediate proxy or a DNS
error names (``lookup vllm-3.prod.acme-internal``, ``getaddrinfo ENOTFOUND ...``, a load
balancer's page). Before, such a name reached the client in the 503's text.

Each row: an upstream's error text, the host names it leaks (none may remain), and text that must
remain (the message stays readable)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw_policy.engine.route_errors import all_failed, attempt_said
from aigw_policy.routing.model import AttemptOutcome

ROWS: list[tuple[str, str, list[str], list[str]]] = [
    ("go dns", "dial tcp: lookup vllm-3.prod.acme-internal on 10.0.0.2:53: no such host",
     ["vllm-3.prod.acme-internal", "10.0.0.2"], ["dial tcp", "no such host"]),
    ("node dns", "getaddrinfo ENOTFOUND inference.svc.cluster.local", ["inference.svc.cluster.local"],
     ["getaddrinfo ENOTFOUND"]),
    ("java dns", "java.net.UnknownHostException: llm-gw.corp: Name or service not known", ["llm-gw.corp"],
     ["Name or service not known"]),
    ("python dns", "[Errno -2] Name or service not known: 'gpu-node-12.lan'", ["gpu-node-12.lan"], ["[Errno -2]"]),
    ("envoy", "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
     "remote connection failure, transport failure reason: delayed connect error: 111 to backend-7:8443",
     ["backend-7:8443"], ["upstream connect error"]),
    ("nginx page", "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
     "</center><hr><center>lb-7.internal.example.com</center></body></html>",
     ["lb-7.internal.example.com", "<center>"], ["502 Bad Gateway"]),
    ("public host", "upstream api.vendor-mirror.io timed out", ["api.vendor-mirror.io"], ["timed out"]),
    ("localhost", "connection refused by localhost:11434", ["localhost"], ["connection refused"]),
    ("a request error", "Invalid value for 'messages[0].content': expected a string, e.g. 'hi'", [],
     ["messages[0].content", "e.g."]),
    ("a model name", "The model gpt-4.1 does not exist or claude-3.5-sonnet-latest is not available", [],
     ["gpt-4.1", "claude-3.5-sonnet-latest"]),
    ("an anthropic path", "messages.0.content: Input should be a valid list", [], ["messages.0.content"]),
]


@pytest.mark.parametrize(("text", "hosts", "kept"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_an_attempts_text_names_no_host_of_the_deployment(text: str, hosts: list[str], kept: list[str]) -> None:
    for body in (text, {"error": {"message": text}}, {"message": text}):
        said = attempt_said(AttemptOutcome(status_code=503, body=body), "http://p0.test/v1")
        _reason, message, _retry = all_failed([{"provider": "p0", "model": "m", "key_id": "k0", "status_code": 503,
                                                "error": None}], [said])
        for host in hosts:
            assert host not in message, message
        for words in kept:
            assert words in message, message


LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(LABEL, min_size=2, max_size=4), st.sampled_from(["corp", "internal", "local", "com", "io", "lan"]),
       st.sampled_from(["lookup {} failed", "no route to {}", "{}: no such host", "at {}."]))
def test_a_host_under_a_deployments_suffix_is_masked_wherever_it_stands(labels: list[str], suffix: str,
                                                                       frame: str) -> None:
    host = ".".join([*labels[:-1], suffix])
    said = attempt_said(AttemptOutcome(status_code=502, body=frame.format(host)))
    assert host not in said and "***" in said
