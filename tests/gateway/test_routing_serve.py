"""`serve` routes and fails over (SPEC §12), end to end: the official openai and anthropic SDKs
against the gateway (uvicorn on loopback, no --upstream) in front of three stub providers.
After each request the ledger says who served, after how many attempts, with which key id;
usage is charged once; no secret reaches a log, the ledger, /metrics or an error body."""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from .conftest import ledger_records, record_of, uvicorn_errors
from .providers_stub import ANTHROPIC_USAGE, OPENAI_USAGE, Reply
from .routing_env import (ENV_SECRETS, GATEWAY_KEY, SECRETS, fresh, grep_secrets, log_line,  # noqa: F401
                          model_used, oai, record, routed, seen, stubs)

MSG = [{"role": "user", "content": "hi"}]


def ant(gw: Any) -> Any:
    return anthropic.Anthropic(base_url=gw.url, api_key=GATEWAY_KEY, max_retries=0, timeout=20)


def assert_served(rec: dict[str, Any], provider: str, model: str, attempts: int, key_id: str) -> None:
    assert (rec["gen_ai.provider.name"], rec["gen_ai.request.model"]) == (provider, model)
    assert rec["aigw.attempts"] == attempts
    assert rec["aigw.route.key_id"] == key_id


def test_key_failover_on_429(routed: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(429, key=SECRETS["alpha"]["one"],
                                 headers={"x-ratelimit-remaining-requests": "0", "x-ratelimit-limit-requests": "60"}))
    raw = oai(routed).chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
    done = raw.parse()
    assert done.choices[0].message.content == "alpha:gpt-4o"
    assert seen(stubs, "alpha") == [("gpt-4o", SECRETS["alpha"]["one"]), ("gpt-4o", SECRETS["alpha"]["two"])]
    for s in stubs["alpha"][0].seen:  # the client's gateway key never goes upstream
        assert GATEWAY_KEY not in json.dumps(s)
        assert s["path"] == "/v1/chat/completions"
    rec = record(routed, raw.headers["x-aigw-decision-id"])
    assert_served(rec, "alpha", "gpt-4o", 2, "a2")
    assert rec["gen_ai.usage.input_tokens"] == OPENAI_USAGE["prompt_tokens"]
    quota = routed.app.route_metrics.snapshot(time.time())["keys"][("alpha", "a1")]["quota"]
    assert quota["remaining_requests"] == 0 and quota["limit_requests"] == 60


def test_a_compressed_answer_is_decoded_for_the_client_and_its_usage(routed: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(gzip=True))
    raw = oai(routed).chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
    assert raw.parse().choices[0].message.content == "alpha:gpt-4o"
    assert "content-encoding" not in raw.headers  # sent on decoded: identity
    assert stubs["alpha"][0].seen[-1]["headers"]["accept-encoding"].startswith("gzip, deflate")
    rec = record(routed, raw.headers["x-aigw-decision-id"])
    assert rec["gen_ai.usage.input_tokens"] == OPENAI_USAGE["prompt_tokens"]
    assert rec["aigw.usage.source"] != "estimate"


def test_model_failover_on_5xx_charges_only_the_served_model(routed: Any, stubs: Any) -> None:
    before = (model_used(routed, "gpt-4o"), model_used(routed, "gpt-4o-mini"))
    stubs["alpha"][0].push(Reply(500, model="gpt-4o", times=2))
    stubs["beta"][0].push(Reply(503))
    raw = oai(routed).chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG,
                                                                 extra_body={"models": ["gpt-4o-mini"]})
    assert raw.parse().choices[0].message.content == "alpha:gpt-4o-mini"
    assert [m for m, _ in seen(stubs, "alpha")] == ["gpt-4o", "gpt-4o", "gpt-4o-mini"]
    assert "models" not in stubs["alpha"][0].seen[-1]["body"]  # the gateway's list, not the upstream's
    assert_served(record(routed, raw.headers["x-aigw-decision-id"]), "alpha", "gpt-4o-mini", 4, "a1")
    assert model_used(routed, "gpt-4o") == before[0]
    assert model_used(routed, "gpt-4o-mini") == before[1] + OPENAI_USAGE["total_tokens"]


def test_model_failover_on_timeout(routed: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(delay=3.5, model="gpt-4o", times=2))
    raw = oai(routed).chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
    assert raw.parse().choices[0].message.content == "beta:gpt-4o"
    rec = record(routed, raw.headers["x-aigw-decision-id"])
    assert_served(rec, "beta", "gpt-4o", 3, "b1")
    tried = log_line(routed, raw.headers["x-aigw-decision-id"])["aigw.route.attempts"]
    assert [a["error"] for a in tried] == ["timeout", "timeout", None]


def test_a_stream_served_after_a_failed_attempt(routed: Any, stubs: Any) -> None:
    before = model_used(routed, "gpt-4o")
    stubs["alpha"][0].push(Reply(503))
    raw = oai(routed).chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "alpha:gpt-4o routed by the gateway"
    assert stubs["alpha"][0].seen[-1]["body"]["stream_options"] == {"include_usage": True}
    rec = record(routed, raw.headers["x-aigw-decision-id"])
    assert_served(rec, "alpha", "gpt-4o", 2, "a2")
    assert rec["gen_ai.usage.output_tokens"] == OPENAI_USAGE["completion_tokens"]
    assert rec["aigw.usage.source"] == "provider"
    assert model_used(routed, "gpt-4o") == before + OPENAI_USAGE["total_tokens"]  # once


def test_all_failed_is_503_with_ngroks_code(routed: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(500, times=2))
    stubs["beta"][0].push(Reply(502))
    with pytest.raises(openai.InternalServerError) as caught:
        oai(routed).chat.completions.create(model="gpt-4o", messages=MSG)
    err = caught.value
    assert err.status_code == 503
    assert err.body["code"] == "ERR_NGROK_3807"
    assert len(stubs["alpha"][0].seen) == 2 and seen(stubs, "beta") == [("gpt-4o", ENV_SECRETS["AIGW_SECRET_BETA_ONLY"])]
    rec = record(routed, err.response.headers["x-aigw-decision-id"])
    assert rec["aigw.verdict"] == "deny" and rec["http.response.status_code"] == 503
    assert rec["aigw.attempts"] == 3
    assert grep_secrets(err.response.text) == []


def test_total_timeout_is_504(routed: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(delay=2.0, times=2))
    with pytest.raises(openai.APIStatusError) as caught:
        oai(routed, default_headers={"x-tight": "1"}).chat.completions.create(model="gpt-4o", messages=MSG)
    assert caught.value.status_code == 504
    assert caught.value.body["code"] == "ERR_NGROK_3810"
    assert seen(stubs, "beta") == []  # the total ran out before beta's turn


def test_a_stream_cut_after_bytes_ends_with_an_error_event_and_no_failover(routed: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(cut_after=400))
    raw = oai(routed).chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG, stream=True)
    got = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in raw.parse():
            got.extend(c.delta.content or "" for c in chunk.choices)
    assert "cut the stream" in str(caught.value)
    assert got and "".join(got).startswith("alpha")
    assert len(stubs["alpha"][0].seen) == 1 and stubs["beta"][0].seen == []
    rec = record(routed, raw.headers["x-aigw-decision-id"])
    assert_served(rec, "alpha", "gpt-4o", 1, "a1")


def test_anthropic_sdk_model_failover_and_stream(routed: Any, stubs: Any) -> None:
    stubs["gamma"][0].push(Reply(529, model="claude-sonnet-4"))
    raw = ant(routed).messages.with_raw_response.create(model="claude-sonnet-4", max_tokens=50, messages=MSG,
                                                        extra_body={"models": ["claude-haiku-4"]})
    msg = raw.parse()
    assert msg.content[0].text == "gamma:claude-haiku-4"
    last = stubs["gamma"][0].seen[-1]
    assert last["headers"]["x-api-key"] == SECRETS["gamma"]["key"] and "authorization" not in last["headers"]
    rec = record(routed, raw.headers["x-aigw-decision-id"])
    assert_served(rec, "gamma", "claude-haiku-4", 2, "g1")
    assert rec["gen_ai.usage.input_tokens"] == ANTHROPIC_USAGE["input_tokens"]

    stubs["gamma"][0].push(Reply(500))
    with ant(routed).messages.stream(model="claude-sonnet-4", max_tokens=50, messages=MSG,
                                     extra_body={"models": ["claude-haiku-4"]}) as stream:
        text = "".join(stream.text_stream)
    assert text == "gamma:claude-haiku-4 routed by the gateway"


def test_a_cut_stream_left_unfinished_is_no_error_of_the_server(routed: Any, stubs: Any) -> None:
    """A client that reads on after the error event sees the connection closed without the
    stream's end; uvicorn's "returned without completing response" error is not logged for it
    (the gateway's own warning says what happened; the stub's uvicorn, in this process, logs
    the cut it makes itself)."""
    stubs["alpha"][0].push(Reply(cut_after=400))
    body = {"model": "gpt-4o", "messages": MSG, "stream": True}
    events = bytearray()
    with uvicorn_errors() as errors:
        with pytest.raises(httpx.RemoteProtocolError), httpx.stream(
                "POST", routed.url + "/v1/chat/completions", json=body, timeout=20,
                headers={"authorization": f"Bearer {GATEWAY_KEY}"}) as r:
            for piece in r.iter_bytes():
                events += piece
    assert b"upstream_stream_cut" in events
    assert not [e for e in errors if "without completing" in e], errors


def test_anthropic_stream_cut_is_an_error_event(routed: Any, stubs: Any) -> None:
    stubs["gamma"][0].push(Reply(cut_after=700))
    with pytest.raises(anthropic.APIStatusError) as caught:
        with ant(routed).messages.stream(model="claude-sonnet-4", max_tokens=50, messages=MSG) as stream:
            for _ in stream.text_stream:
                pass
    assert "cut the stream" in str(caught.value)
    assert len(stubs["gamma"][0].seen) == 1


def test_metrics_count_attempts_and_failovers(routed: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(429))
    oai(routed).chat.completions.create(model="gpt-4o", messages=MSG)
    text = httpx.get(routed.url + "/metrics").text
    assert 'aigw_route_attempts_total{outcome="429",provider="alpha"}' in text
    assert 'aigw_route_failovers_total{provider="alpha"}' in text


def test_no_secret_anywhere(routed: Any, stubs: Any) -> None:
    stubs["alpha"][0].push(Reply(500, times=2))
    stubs["beta"][0].push(Reply(500))
    with pytest.raises(openai.InternalServerError) as caught:
        oai(routed).chat.completions.create(model="gpt-4o", messages=MSG)
    rid = caught.value.response.headers["x-aigw-decision-id"]
    ledger_records(routed.files["ledger"], rid)
    log_line(routed, rid)  # written just after the answer: wait for it before looking
    texts = [routed.files["ledger"].read_text(), routed.log.getvalue(), httpx.get(routed.url + "/metrics").text,
             caught.value.response.text, repr(routed.app.route_metrics.snapshot(time.time()))]
    assert grep_secrets(*texts) == []
    assert all(GATEWAY_KEY not in t for t in texts)


def test_the_decision_log_says_where_each_attempt_went(routed: Any, stubs: Any) -> None:
    """Each attempt's provider, model and key id (never the secret): a key that keeps failing
    behind a successful failover shows in the decision log, not only in the metrics' totals."""
    stubs["alpha"][0].push(Reply(401, key=SECRETS["alpha"]["one"]), Reply(500, model="gpt-4o", key=SECRETS["alpha"]["two"]))
    raw = oai(routed).chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)
    line = log_line(routed, raw.headers["x-aigw-decision-id"])
    assert line["aigw.route.attempts"] == [
        {"provider": "alpha", "model": "gpt-4o", "key_id": "a1", "status": 401, "error": None},
        {"provider": "alpha", "model": "gpt-4o", "key_id": "a2", "status": 500, "error": None},
        {"provider": "beta", "model": "gpt-4o", "key_id": "b1", "status": 200, "error": None}]
    assert grep_secrets(json.dumps(line)) == []
