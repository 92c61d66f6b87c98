"""A stored response lives with the provider and key that made it (SPEC §12), whether it ran in
the background or not: OpenAI's Responses API stores every response unless the request says
``store: false``, and the SDK's next calls name it, ``responses.retrieve(id)`` /
``input_items.list(id)`` / ``delete(id)``, and, the API's way of holding a conversation,
``responses.create(previous_response_id=id, ...)``.

Before, only a background response's owner was remembered: a retrieve of a response served in
the foreground was refused 404 ``unsupported_endpoint`` (the real API answers it), and a turn
that continued one was planned as any request, so after a failover (the first turn served by
the second key) the next turn went to the first key, which does not hold the previous response
(OpenAI: 400 ``previous_response_not_found``), and under ``failover_on: [429, 5xx, ...]`` that
400 ended the conversation. Now a served, stored response is remembered as a background one is,
and a turn that continues a response the same caller made is tried only on the candidates with
its provider and key (the others skipped, with the reason), in the plan's order."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import aigw_policy as ap
from aigw_policy.limits.model import Charge

from .attempt_loop import RITA, through_attempts

POLICY = """\
on_http_request:
  - name: caps
    actions:
      - type: usage-cap
        config: {name: per-provider, limit: 1000000, unit: tokens, period: day, bucket_key: ["ai.provider"]}
  - name: route
    actions:
      - type: ai-gateway
        config:
          failover_on: [429, 5xx, timeout, connect]
          providers:
            - {id: p0, base_url: "http://p0.test/v1", api_keys: [{value: k-zero, id: k0}],
               models: [{id: gpt-4o}, {id: gpt-4o-mini}]}
            - {id: p1, base_url: "http://p1.test/v1", api_keys: [{value: k-one, id: k1}, {value: k-two, id: k2}],
               models: [{id: gpt-4o}, {id: gpt-4o-mini}]}
"""
USAGE = {"input_tokens": 30, "output_tokens": 12, "total_tokens": 42}


def _response(rid: str, **extra: Any) -> dict[str, Any]:
    return {"id": rid, "object": "response", "status": "completed", "model": "gpt-4o",
            "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}],
            "usage": USAGE, **extra}


def _stream(rid: str, **extra: Any) -> str:
    created = {**_response(rid, **extra), "status": "in_progress", "output": [], "usage": None}
    events = [("response.created", {"type": "response.created", "sequence_number": 0, "response": created}),
              ("response.completed", {"type": "response.completed", "sequence_number": 1,
                                      "response": _response(rid, **extra)})]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


# how the first turn's answer comes -> (its answer, whether the provider keeps it)
ANSWERS: dict[str, tuple[dict[str, Any], bool]] = {
    "json": ({"status_code": 200, "body": _response("resp_fg1")}, True),
    "json as text": ({"status_code": 200, "body": json.dumps(_response("resp_fg1"))}, True),
    "json, store true said": ({"status_code": 200, "body": _response("resp_fg1", store=True)}, True),
    "stream": ({"status_code": 200, "body": _stream("resp_fg1")}, True),
    "json, store false": ({"status_code": 200, "body": _response("resp_fg1", store=False)}, False),
    "json as text, store false": ({"status_code": 200, "body": json.dumps(_response("resp_fg1", store=False))}, False),
    "stream, store false": ({"status_code": 200, "body": _stream("resp_fg1", store=False)}, False),
}
READS = [("retrieve", "GET", "/v1/responses/resp_fg1"), ("input items", "GET", "/v1/responses/resp_fg1/input_items"),
         ("delete", "DELETE", "/v1/responses/resp_fg1")]


def _engine(tmp_path: Path) -> ap.Engine:
    (tmp_path / "p.yaml").write_text(POLICY)
    return ap.Engine(str(tmp_path / "p.yaml"))


_call = through_attempts


def _first_turn(engine: ap.Engine, answer: dict[str, Any]) -> Any:
    """The first turn: p0 is rate limited (429), p1's key k1 serves it."""
    body = {"model": "gpt-4o", "input": "otters", "stream": isinstance(answer["body"], str)
            and answer["body"].startswith("event:")}
    first = _call(engine, "POST", "/v1/responses", body, [{"status_code": 429}, dict(answer)])
    assert first.routing["served"]["key_id"] == "k1", first.routing
    return first


def _used(engine: ap.Engine, provider: str) -> float:
    spec = engine.compiled.limits["per-provider"][1].limit.spec
    return engine.store.check([Charge(spec, provider, 0)], time.time())[0].used


@pytest.mark.parametrize("how", sorted(ANSWERS))
@pytest.mark.parametrize(("method", "path"), [r[1:] for r in READS], ids=[r[0] for r in READS])
def test_a_read_of_a_stored_response_goes_where_it_is(tmp_path: Path, how: str, method: str, path: str) -> None:
    engine = _engine(tmp_path)
    answer, kept = ANSWERS[how]
    _first_turn(engine, answer)
    assert _used(engine, "p1") == 42
    read = _call(engine, method, path, None, [{"status_code": 200, "body": _response("resp_fg1")}])
    if not kept:  # nothing holds it: refused as a read nobody routed
        assert (read.verdict, read.status_code, read.routing) == ("deny", 404, None)
        return
    assert read.verdict == "allow", read.reason
    assert [(c["provider"], c["key_id"]) for c in read.routing["candidates"]] == [("p1", "k1")]
    assert _used(engine, "p1") == 42 and _used(engine, "p0") == 0  # the read charges nothing again


@pytest.mark.parametrize("how", sorted(ANSWERS))
def test_a_turn_that_continues_a_stored_response_goes_to_its_provider_and_key(tmp_path: Path, how: str) -> None:
    engine = _engine(tmp_path)
    answer, kept = ANSWERS[how]
    _first_turn(engine, answer)
    turn = {"model": "gpt-4o", "input": "and then?", "previous_response_id": "resp_fg1"}
    second = _call(engine, "POST", "/v1/responses", turn,
                   [{"status_code": 200, "body": _response("resp_fg2")}] * 5)
    tried = [(a["provider"], a["key_id"]) for a in second.routing["attempts"]]
    if not kept:  # planned as any request
        assert tried == [("p0", "k0")]
        return
    assert tried == [("p1", "k1")]
    skipped = {(c["provider"], c["model"], c["key_id"]): c["skipped_because"] for c in second.routing["candidates"]}
    assert skipped[("p1", "gpt-4o", "k1")] is None
    assert "resp_fg1" in skipped[("p0", "gpt-4o", "k0")] and "resp_fg1" in skipped[("p1", "gpt-4o", "k2")]


def test_a_continued_turn_fails_over_among_the_holders_candidates_only(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    _first_turn(engine, ANSWERS["json"][0])
    turn = {"model": "gpt-4o", "input": "and then?", "previous_response_id": "resp_fg1", "models": ["gpt-4o-mini"]}
    second = _call(engine, "POST", "/v1/responses", turn,
                   [{"status_code": 503}, {"status_code": 200, "body": _response("resp_fg2")}])
    assert [(a["provider"], a["model"], a["key_id"]) for a in second.routing["attempts"]] == [
        ("p1", "gpt-4o", "k1"), ("p1", "gpt-4o-mini", "k1")]
    # the second turn's own response is kept too: a third turn goes where it is
    third = _call(engine, "POST", "/v1/responses", {"model": "gpt-4o", "input": "more", "previous_response_id":
                                                     "resp_fg2"}, [{"status_code": 200, "body": _response("resp_3")}])
    assert third.routing["served"]["key_id"] == "k1"


@pytest.mark.parametrize("case", ["another caller", "an unknown id", "not a response id", "not text"])
def test_a_turn_whose_previous_response_is_not_the_callers_is_planned_as_any(tmp_path: Path, case: str) -> None:
    engine = _engine(tmp_path)
    _first_turn(engine, ANSWERS["json"][0])
    previous: Any = {"an unknown id": "resp_nobody", "not a response id": "fg1", "not text": 7}.get(case, "resp_fg1")
    who = {"user": "mallory"} if case == "another caller" else RITA
    turn = {"model": "gpt-4o", "input": "x", "previous_response_id": previous}
    second = _call(engine, "POST", "/v1/responses", turn, [{"status_code": 200, "body": _response("resp_m")}],
                   identity=who)
    if case == "not text":  # the classifier refuses a field of the wrong type, or it is planned as any
        assert second.routing is None or second.routing["attempts"][0]["key_id"] == "k0"
        return
    assert [(a["provider"], a["key_id"]) for a in second.routing["attempts"]] == [("p0", "k0")]
    assert all(c["skipped_because"] is None for c in second.routing["candidates"])


CHAT_USAGE = {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}


def _completion(cid: str) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion", "created": 1, "model": "gpt-4o", "usage": CHAT_USAGE,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}]}


def _chunks(cid: str) -> str:
    base = {"id": cid, "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]},
              {**base, "choices": [], "usage": CHAT_USAGE}]
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


# how the chat completion is asked and answered -> (its `store`, its answer, whether it is kept)
CHAT_ANSWERS: dict[str, tuple[Any, dict[str, Any], bool]] = {
    "json": (True, {"status_code": 200, "body": _completion("chatcmpl-fg1")}, True),
    "json as text": (True, {"status_code": 200, "body": json.dumps(_completion("chatcmpl-fg1"))}, True),
    "stream": (True, {"status_code": 200, "body": _chunks("chatcmpl-fg1")}, True),
    "json, no store": (None, {"status_code": 200, "body": _completion("chatcmpl-fg1")}, False),
    "json, store false": (False, {"status_code": 200, "body": _completion("chatcmpl-fg1")}, False),
    "stream, store 'true' as text": ("true", {"status_code": 200, "body": _chunks("chatcmpl-fg1")}, False),
    "json, another object": (True, {"status_code": 200, "body": {**_completion("chatcmpl-fg1"),
                                                                 "object": "response"}}, False),
}
CHAT_READS = [("retrieve", "GET", "/v1/chat/completions/chatcmpl-fg1"),
              ("messages", "GET", "/v1/chat/completions/chatcmpl-fg1/messages"),
              ("update", "POST", "/v1/chat/completions/chatcmpl-fg1"),
              ("delete", "DELETE", "/v1/chat/completions/chatcmpl-fg1")]


@pytest.mark.parametrize("how", sorted(CHAT_ANSWERS))
@pytest.mark.parametrize(("method", "path"), [r[1:] for r in CHAT_READS], ids=[r[0] for r in CHAT_READS])
def test_a_read_of_a_stored_chat_completion_goes_where_it_is(tmp_path: Path, how: str, method: str,
                                                             path: str) -> None:
    """A chat completion asked kept (``store: true``: OpenAI keeps none unless asked) lives with
    the key that made it, as a stored response does: its reads, metadata update and delete go
    there and charge nothing; one not asked kept is not remembered (the read is refused)."""
    engine = _engine(tmp_path)
    store, answer, kept = CHAT_ANSWERS[how]
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "otters"}],
            "stream": isinstance(answer["body"], str) and answer["body"].startswith("data:"),
            **({"store": store} if store is not None else {})}
    first = _call(engine, "POST", "/v1/chat/completions", body, [{"status_code": 429}, dict(answer)])
    assert first.routing["served"]["key_id"] == "k1", first.routing
    assert _used(engine, "p1") == 42
    read = _call(engine, method, path, {"metadata": {"a": "b"}} if method == "POST" else None,
                 [{"status_code": 200, "body": _completion("chatcmpl-fg1")}])
    if not kept:
        assert (read.verdict, read.status_code, read.routing) == ("deny", 404, None)
        return
    assert read.verdict == "allow", read.reason
    assert [(c["provider"], c["key_id"]) for c in read.routing["candidates"]] == [("p1", "k1")]
    assert _used(engine, "p1") == 42 and _used(engine, "p0") == 0  # the read charges nothing again
