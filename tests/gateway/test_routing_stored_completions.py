"""The OpenAI SDK's stored chat completions through ``serve`` across a failover (SPEC §12): a
``chat.completions.create(..., store=True)`` is served by the second provider (the first is
rate limited), and the SDK's calls that name the completion it made (``retrieve``,
``messages.list``, ``update`` of its metadata, ``delete``) go to the key that holds it, as
OpenAI keeps a stored completion in the project of the key that made it (another project
answers 404). The list (``GET /v1/chat/completions``) names no completion: still not routed.

Before, each of those calls was refused by the gateway with 404 ``unsupported_endpoint`` (the
route remembered stored Responses only, route24), though the completion was stored and billed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import openai
import pytest

from .conftest import policy_gateway, record_of, routed_policy
from .raw_upstream import RawUpstream, serve

KEY = "sk-gw-stored-completions"
USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def _answer(status: int, body: bytes, ctype: str = "application/json") -> bytes:
    return (f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body


def _completion(cid: str, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion", "created": 1, "model": "gpt-4o", "usage": USAGE,
            "metadata": metadata or {}, "choices": [{"index": 0, "finish_reason": "stop",
                                                     "message": {"role": "assistant", "content": "Otters."}}]}


def _not_found(cid: str) -> bytes:
    return _answer(404, json.dumps({"error": {"message": f"Completion with id '{cid}' not found.",
                                              "type": "invalid_request_error", "param": None,
                                              "code": None}}).encode())


class Project:
    """An OpenAI project: it keeps the completions asked to be stored, and answers their reads,
    updates and deletes; another project's ids are 404."""

    def __init__(self, name: str, rate_limited: bool) -> None:
        self.name, self.rate_limited = name, rate_limited
        self.kept: dict[str, dict[str, Any]] = {}
        self.seen: list[str] = []

    def __call__(self, request: bytes) -> bytes:
        line = request.split(b"\r\n", 1)[0].decode()
        body = request.split(b"\r\n\r\n", 1)[1]
        self.seen.append(line)
        method, target = line.split()[:2]
        path = target.split("?", 1)[0]
        if path != "/v1/chat/completions":
            cid = path.removeprefix("/v1/chat/completions/").split("/")[0]
            if cid not in self.kept:
                return _not_found(cid)
            if path.endswith("/messages"):
                listed = {"object": "list", "data": [{"id": f"{cid}-0", "role": "user", "content": "otters?"}],
                          "first_id": f"{cid}-0", "last_id": f"{cid}-0", "has_more": False}
                return _answer(200, json.dumps(listed).encode())
            if method == "DELETE":
                del self.kept[cid]
                return _answer(200, json.dumps({"object": "chat.completion.deleted", "id": cid,
                                                "deleted": True}).encode())
            if method == "POST":
                self.kept[cid] = _completion(cid, json.loads(body)["metadata"])
            return _answer(200, json.dumps(self.kept[cid]).encode())
        if self.rate_limited:
            return _answer(429, b'{"error": {"message": "Rate limit reached", "type": "requests", "code": null}}')
        sent = json.loads(body)
        cid = f"chatcmpl-{self.name}{len(self.kept)}"
        if sent.get("store") is True:
            self.kept[cid] = _completion(cid)
        if re.search(rb'"stream":\s*true', body):
            base = {"id": cid, "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
            chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Otters."},
                                            "finish_reason": None}]},
                      {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                      {**base, "choices": [], "usage": USAGE}]
            text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            return _answer(200, text.encode(), "text/event-stream")
        return _answer(200, json.dumps(_completion(cid)).encode())


def _made(client: openai.OpenAI, stream: bool, store: bool = True) -> tuple[str, str]:
    """A completion made with ``store``: its id and the decision id of its request."""
    messages = [{"role": "user", "content": "otters?"}]
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages, store=store,
                                                          stream=stream,
                                                          **({"stream_options": {"include_usage": True}}
                                                             if stream else {}))
    made = raw.parse()
    cid = next(iter(made)).id if stream else made.id
    if stream:
        for _ in made:  # read to its end
            pass
    return cid, raw.headers["x-aigw-decision-id"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_stored_completion_is_read_updated_and_deleted_at_the_key_that_holds_it(stream: bool) -> None:
    first, second = Project("a", rate_limited=True), Project("b", rate_limited=False)
    with RawUpstream(serve(first)) as p0, RawUpstream(serve(second)) as p1, \
            policy_gateway(routed_policy([p0.url, p1.url]), KEY) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=20)
        cid, rid = _made(client, stream)
        assert cid == "chatcmpl-b0"
        assert record_of(gw.ledger, rid)["aigw.route.key_id"] == "k1"
        calls = client.chat.completions.with_raw_response
        read = calls.retrieve(cid)
        assert read.parse().choices[0].message.content == "Otters."
        listed = client.chat.completions.messages.with_raw_response.list(cid)
        assert [m.content for m in listed.parse()] == ["otters?"]
        updated = calls.update(cid, metadata={"topic": "otters"})
        assert updated.parse().metadata == {"topic": "otters"}
        deleted = calls.delete(cid)
        assert deleted.parse().deleted is True
        for raw in (read, listed, updated, deleted):  # no inference: the usage was charged once, by the create
            record = record_of(gw.ledger, raw.headers["x-aigw-decision-id"])
            assert (record["aigw.route.key_id"], record["aigw.usage.total_tokens"] or 0) == ("k1", 0), record
        assert record_of(gw.ledger, rid)["aigw.usage.total_tokens"] == USAGE["total_tokens"]
    assert [line for line in first.seen if "chatcmpl-" in line] == []  # nothing of b's went to a
    assert len(second.seen) == 5


def test_a_completion_not_stored_is_not_remembered() -> None:
    first, second = Project("a", rate_limited=True), Project("b", rate_limited=False)
    with RawUpstream(serve(first)) as p0, RawUpstream(serve(second)) as p1, \
            policy_gateway(routed_policy([p0.url, p1.url]), KEY) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0, timeout=20)
        cid, _ = _made(client, stream=False, store=False)
        with pytest.raises(openai.NotFoundError) as refused:
            client.chat.completions.retrieve(cid)
        assert refused.value.code == "unsupported_endpoint"  # the gateway's: no key is known to hold it
        with pytest.raises(openai.NotFoundError):  # the list names no completion: not routed
            client.chat.completions.list()
    assert len(second.seen) == 1
